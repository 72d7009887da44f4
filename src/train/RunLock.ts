/**
 * One writer per run directory. A trainer holds `<runDir>/.lock` for as long as the run is built:
 * a second trainer on the same directory would interleave two histories in `metrics.jsonl` and
 * delete checkpoints under the other's feet.
 *
 * The lock is a small JSON file naming its holder (pid, process start time, host), created
 * atomically with a hard link from a private temporary file (a link fails when the name exists,
 * on every local file system). A holder that crashed leaves the file behind, so a lock whose
 * process is gone — or whose pid now belongs to a process started at another time — is stale and
 * taken over. Locks held on another host cannot be checked and are always respected.
 */
import { Effect, Layer, Schema } from "effect"
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

/** Field 22 of /proc/<pid>/stat; undefined where /proc is not available. */
const processStartOf = (pid: number): string | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may contain spaces and parentheses: count fields after its end.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
  } catch {
    return undefined
  }
}

const isAlive = (holder: Holder): boolean => {
  if (holder.host !== os.hostname()) return true
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
  const start = processStartOf(holder.pid)
  return holder.processStart === undefined || start === undefined || start === holder.processStart
}

const me = (): Holder => {
  const processStart = processStartOf(process.pid)
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

/**
 * One attempt at the lock: link our file into place, or judge the holder. A stale lock is moved
 * aside under a unique name and checked again there, so two processes that both judged it stale
 * cannot both remove a fresh lock: the loser finds someone else's content and puts it back.
 */
const attempt = (file: string, mine: string): Attempt | "retry" => {
  try {
    fs.linkSync(mine, file)
    return { taken: true }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
  }
  const current = readHolder(file)
  if (current === undefined) return "retry"
  // An unreadable lock (torn by a crash while it was written) is as stale as a dead holder.
  if (current.holder !== undefined && isAlive(current.holder)) return { taken: false, holder: current.holder }
  const aside = `${file}.stale-${process.pid}-${Date.now()}`
  try {
    fs.renameSync(file, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "retry"
    throw error
  }
  if (fs.readFileSync(aside, "utf8") !== current.text) {
    // Someone took the lock between our read and our rename: give it back.
    try {
      fs.linkSync(aside, file)
    } catch {
      // the name is taken again; the next attempt judges that holder
    }
  }
  fs.rmSync(aside, { force: true })
  return "retry"
}

const acquire = (runDir: string) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(runDir, { recursive: true })
      const file = path.join(runDir, LOCK_FILE)
      const holder = me()
      const text = JSON.stringify(holder)
      const mine = `${file}.${process.pid}-${Date.now()}`
      fs.writeFileSync(mine, text, { flag: "wx" })
      try {
        for (let tries = 0; tries < 10; tries++) {
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
