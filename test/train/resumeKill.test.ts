/**
 * The metrics history survives kills at the start of a resumed run, with real processes. The run
 * resumes from step 8 of a history that goes on to step 12 and ends in a torn line, so it must
 * drop lines before it appends. It is killed with SIGKILL again and again: 0–30 ms after it reports
 * that it started (so while it opens the history or runs its first updates), or 0–3 ms after the
 * replacement of the history appears on disk. Each time, the history up to the checkpoint must be
 * there byte for byte, followed either by the old lines past it or by the resumed run's own; and a
 * resume after the last kill still ends with the uninterrupted trajectory.
 *
 * The same holds when the newest checkpoint is still there but damaged, so the resume falls back
 * past it to step 8 (and the history past 8 is the damaged checkpoint's, which must go too). Each
 * last resume also takes over the lock the last SIGKILLed process left behind.
 *
 * The kill plan comes from a fixed seed (override with CONTINUUM_KILL_SEED) and is logged.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as readline from "node:readline"
import { checkpointsDir, stepDirName } from "../../src/checkpoint/layout.ts"
import { uniform } from "../../src/tensor/rng.ts"
import { lineKey, metricsFile } from "../../src/train/metricsLine.ts"
import { trajectory } from "../support/metrics.ts"
import { type Exit, exited, spawnNode, trainingChildArgs } from "../support/processes.ts"
import { tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

const TRIES = 12
const FALLBACK_TRIES = 8
const RESUME_STEP = 8
const SEED = Number(process.env.CONTINUUM_KILL_SEED ?? 20240612)
const overrides = { steps: 12, checkpoint: { every: 4 } }

/**
 * When a kill lands: `delayMs` after the process reports its start (its run built, the history
 * about to be opened), or after the replacement of the history appears on disk.
 */
interface Kill {
  readonly after: "started" | "rewriting"
  readonly delayMs: number
}

/** Kill `i`, a pure function of the seed: every other one aims at the replacement itself. */
const planKill = (i: number): Kill =>
  i % 2 === 0
    ? { after: "started", delayMs: Math.floor(uniform(SEED, i, 0) * 31) }
    : { after: "rewriting", delayMs: Math.floor(uniform(SEED, i, 0) * 4) }

/** Runs `--resume auto` in `runDir`, killed as `kill` says when given. */
const resume = (runDir: string, kill?: Kill) =>
  new Promise<Exit & { readonly stderr: string }>((resolve) => {
    const child = spawnNode(trainingChildArgs(runDir, overrides, "auto"))
    let stderr = ""
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    // A kill sent just as the process exits by itself cannot be delivered; the exit tells the rest.
    child.on("error", () => {})
    let armed = kill !== undefined
    const fire = () => {
      if (!armed) return
      armed = false
      setTimeout(() => child.kill("SIGKILL"), kill!.delayMs)
    }
    const watcher = kill?.after === "rewriting"
      ? fs.watch(runDir, (_event, name) => name === `${path.basename(metricsFile(runDir))}.tmp` && fire())
      : undefined
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      // Event lines are JSON; log lines (a warning about a skipped checkpoint) are not.
      if (!line.startsWith("{")) return
      if (kill?.after === "started" && (JSON.parse(line) as { _tag: string })._tag === "Started") fire()
    })
    void exited(child).then((exit) => {
      watcher?.close()
      resolve({ ...exit, stderr })
    })
  })

/** The text of the lines at or before `step`, in order. */
const upTo = (text: string, step: number) =>
  text.split("\n").filter((line) => (lineKey(line)?.step ?? Infinity) <= step).map((line) => `${line}\n`).join("")

/**
 * Trains the template, leaves it as `damage` says (a process that ran past step 8 and died
 * mid-append), then resumes copies of it under `tries` kills.
 */
const killResumes = async (name: string, tries: number, damage: (template: string) => void) => {
  const dir = tempDir(`continuum-resume-kill-${name}-`)
  const template = path.join(dir, "template")
  await Effect.runPromise(Effect.flatMap(tinyConfig(template, overrides), (config) => trainRun(config)))
  const uninterrupted = trajectory(template)
  damage(template)
  fs.appendFileSync(metricsFile(template), "{\"step\":13,\"lo")
  const before = fs.readFileSync(metricsFile(template), "utf8")
  const kept = upTo(before, RESUME_STEP)
  assert.isTrue(before.startsWith(kept) && kept.length < before.length)

  const log: Array<Record<string, unknown>> = []
  let runDir = template
  try {
    for (let i = 0; i < tries; i++) {
      runDir = path.join(dir, `try-${i}`)
      fs.cpSync(template, runDir, { recursive: true })
      const kill = planKill(i)
      const { code, signal, stderr } = await resume(runDir, kill)
      assert.isTrue(signal === "SIGKILL" || code === 0, `try ${i}: exit ${code}/${signal}: ${stderr}`)
      const after = fs.readFileSync(metricsFile(runDir), "utf8")
      assert.isTrue(after.startsWith(kept), `try ${i}: the history up to step ${RESUME_STEP} changed`)
      // Past the checkpoint: the old lines untouched, or the resumed run's marker and steps (the
      // last one possibly torn by the kill).
      const added = after.slice(kept.length).split("\n").slice(0, -1)
      if (after !== before) {
        for (const line of added) {
          const key = lineKey(line)
          assert.isTrue(
            key !== undefined && (key.resume ? key.step === RESUME_STEP : key.step > RESUME_STEP),
            `try ${i}: ${line}`
          )
        }
      }
      log.push({
        try: i,
        kill: `${kill.delayMs} ms after ${kill.after}`,
        exit: signal ?? code,
        history: after === before ? "untouched" : `kept + ${added.length} new lines`
      })
    }
  } finally {
    console.log(`resume-kill test (${name}), seed ${SEED}`)
    console.table(log)
  }

  const { code, stderr } = await resume(runDir)
  assert.strictEqual(code, 0, stderr)
  assert.deepStrictEqual(trajectory(runDir), uninterrupted)
}

const newest = (template: string) => path.join(checkpointsDir(template), stepDirName(12))

describe("metrics history under kills", () => {
  it("SIGKILL in the first milliseconds of a resumed run never loses the history up to its checkpoint", async () => {
    // 12 is gone, 8 remains.
    await killResumes("removed", TRIES, (template) => fs.rmSync(newest(template), { recursive: true }))
  }, 300_000)

  it("the same when the resume falls back past a damaged newest checkpoint", async () => {
    await killResumes("damaged", FALLBACK_TRIES, (template) => {
      const file = path.join(newest(template), "model.safetensors")
      const bytes = fs.readFileSync(file)
      bytes[bytes.length - 1] ^= 0x40
      fs.writeFileSync(file, bytes)
    })
  }, 300_000)
})
