/**
 * One writer per run directory. A trainer holds `<runDir>/.lock` for as long as the run is built:
 * a second trainer on the same directory would interleave two histories in `metrics.jsonl` and
 * delete checkpoints under the other's feet.
 *
 * The lock is a small JSON file naming its holder (pid, process start time, host), created
 * atomically with a hard link from a private, fully written temporary file (a link fails when the
 * name exists, on every local file system, and never shows a half-written lock). A holder that
 * crashed leaves the file behind, so a lock whose process is gone, is a zombie, or whose pid now
 * belongs to a process started at another time (field 22 of /proc/<pid>/stat) is stale and taken
 * over. Locks held on another host cannot be checked and are always respected.
 */
import { Effect, Layer, Schema } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const LOCK_FILE = ".lock"

/** Another live process trains in this run directory. */
export class RunDirLocked extends Schema.TaggedError<RunDirLocked>()("RunDirLocked", {
  runDir: Schema.String,
  pid: Schema.Number,
  host: Schema.String,
  since: Schema.String
}) {
  override get message(): string {
    return `${this.runDir} is in use by process ${this.pid} on ${this.host} (since ${this.since}); ` +
      `wait for it to finish or stop it, or choose another runDir`
  }
}

/** The run directory's lock could not be taken or released for a reason other than a holder. */
export class RunLockError extends Schema.TaggedError<RunLockError>()("RunLockError", {
  file: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot lock ${this.file}: ${this.detail}`
  }
}

const Holder = Schema.Struct({
  pid: Schema.Number,
  /** Start time of the holder process (clock ticks since boot, Linux); pids are reused. */
  processStart: Schema.optional(Schema.String),
  host: Schema.String,
  since: Schema.String
})
type Holder = typeof Holder.Type

const decodeHolder = Schema.decodeUnknownOption(Schema.fromJsonString(Holder))

interface ProcessStat {
  /** Field 3: R, S, D, Z (zombie), X (dead), … */
  readonly state: string
  /** Field 22: start time in clock ticks since boot. */
  readonly start: string
}

/** Fields 3 and 22 of /proc/<pid>/stat; undefined where /proc is not available or the pid is gone. */
const processStat = (pid: number): ProcessStat | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may contain spaces and parentheses: count fields after its end.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const [state, start] = [fields[0], fields[19]]
    return state === undefined || start === undefined ? undefined : { state, start }
  } catch {
    return undefined
  }
}

const isAlive = (holder: Holder): boolean => {
  if (holder.host !== os.hostname()) return true
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    // EPERM: a process exists but belongs to someone else; it may be a reuse of the pid, so its
    // start time decides below like any other.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false
  }
  const stat = processStat(holder.pid)
  // Without /proc nothing more can be told: a process with that pid exists.
  if (stat === undefined) return true
  // A killed holder whose parent has not reaped it yet still has a pid, but will never release.
  if (stat.state === "Z" || stat.state === "X") return false
  return holder.processStart === undefined || stat.start === holder.processStart
}

const me = (): Holder => {
  const processStart = processStat(process.pid)?.start
  return {
    pid: process.pid,
    ...(processStart === undefined ? {} : { processStart }),
    host: os.hostname(),
    since: new Date().toISOString()
  }
}

const readHolder = (file: string): { readonly text: string; readonly holder: Holder | undefined } | undefined => {
  try {
    const text = fs.readFileSync(file, "utf8")
    const decoded = decodeHolder(text)
    return { text, holder: decoded._tag === "Some" ? decoded.value : undefined }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw error
  }
}

type Attempt = { readonly taken: true } | { readonly taken: false; readonly holder: Holder }

/** Blocks for `ms`; only while another process finishes breaking a stale lock (microseconds). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

const isCode = (error: unknown, code: string) => (error as NodeJS.ErrnoException).code === code

/**
 * Removes a stale lock whose content is `staleText`, if it is still that lock. Only the process
 * that creates the breaker file for this content may remove it, so two processes that both judged
 * the same lock stale cannot remove each other's fresh lock: the later one finds other content
 * and leaves it. Lock contents never repeat (they name a pid, its start time and a timestamp).
 * A breaker left by a process that died while breaking is itself removed as stale.
 */
const breakStale = (file: string, staleText: string, mine: string): void => {
  const breaker = `${file}.breaking-${createHash("sha256").update(staleText).digest("hex").slice(0, 16)}`
  try {
    fs.linkSync(mine, breaker)
  } catch (error) {
    if (!isCode(error, "EEXIST")) throw error
    const other = readHolder(breaker)
    if (other?.holder !== undefined && isAlive(other.holder)) pause(20)
    else fs.rmSync(breaker, { force: true })
    return
  }
  try {
    const current = readHolder(file)
    if (current?.text === staleText) fs.rmSync(file, { force: true })
  } finally {
    fs.rmSync(breaker, { force: true })
  }
}

/** One attempt at the lock: link our file into place, or judge the holder (a stale one is removed). */
const attempt = (file: string, mine: string): Attempt | "retry" => {
  try {
    fs.linkSync(mine, file)
    return { taken: true }
  } catch (error) {
    if (!isCode(error, "EEXIST")) throw error
  }
  const current = readHolder(file)
  if (current === undefined) return "retry"
  // The lock appears whole (it is linked from a complete file): unreadable content means a disk
  // that lost it in a crash, as stale as a dead holder.
  if (current.holder !== undefined && isAlive(current.holder)) return { taken: false, holder: current.holder }
  breakStale(file, current.text, mine)
  return "retry"
}

const acquire = (runDir: string) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(runDir, { recursive: true })
      const file = path.join(runDir, LOCK_FILE)
      const holder = me()
      const text = JSON.stringify(holder)
      const mine = `${file}.${process.pid}-${randomBytes(6).toString("hex")}`
      fs.writeFileSync(mine, text, { flag: "wx" })
      try {
        for (let tries = 0; tries < 50; tries++) {
          const result = attempt(file, mine)
          if (result !== "retry") return { file, text, result }
        }
        throw new Error("the lock file kept changing while it was being taken")
      } finally {
        fs.rmSync(mine, { force: true })
      }
    },
    catch: (error) => new RunLockError({ file: path.join(runDir, LOCK_FILE), detail: String(error) })
  }).pipe(
    Effect.flatMap(({ file, text, result }) =>
      result.taken
        ? Effect.succeed({ file, text })
        : Effect.fail(
          new RunDirLocked({ runDir, pid: result.holder.pid, host: result.holder.host, since: result.holder.since })
        )
    )
  )

/** Removes the lock if it is still ours (a stale-lock takeover may have replaced it). */
const release = ({ file, text }: { readonly file: string; readonly text: string }) =>
  Effect.sync(() => {
    try {
      if (fs.readFileSync(file, "utf8") === text) fs.rmSync(file, { force: true })
    } catch {
      // already gone
    }
  })

/**
 * Holds the run directory's lock for the lifetime of the layer. Provide it beneath everything
 * that writes into the run directory (the checkpoint store cleans up on start, the metrics sink
 * truncates on resume), so that nothing is written before the lock is held.
 */
export const runLockLayer = (runDir: string): Layer.Layer<never, RunDirLocked | RunLockError> =>
  Layer.effectDiscard(Effect.acquireRelease(acquire(runDir), release))
