/**
 * Graceful stops of real processes: SIGTERM or SIGINT in the middle of a run lets the current step
 * finish, saves a checkpoint at that step (awaiting a background save) and exits 0; resuming from
 * it with the exact policy ends where an uninterrupted run ends, bit for bit.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { checkpointsDir } from "../../src/checkpoint/layout.ts"
import { loadRunConfig } from "../../src/config/loadConfig.ts"
import { metricsFile } from "../../src/train/metricsLine.ts"
import { checkpointDirs, withStore } from "../support/checkpoints.ts"
import { assertSameTensors } from "../support/compare.ts"
import { evalLines, stepLines } from "../support/metrics.ts"
import { type Exit, exited, spawnNode, trainingChildArgs } from "../support/processes.ts"
import { type RunResult, tempDir, TINY_MODEL_SETS, tinyConfig, trainRun } from "../support/tinyRun.ts"

const STEPS = 40
/** The step after which the signal is sent; the run must stop soon after, well before the end. */
const SIGNAL_AFTER = 5

interface Finished extends Exit {
  readonly stdout: string
  readonly stderr: string
}

/** Runs a process to its end; with `stop`, sends its signal once metrics.jsonl shows SIGNAL_AFTER steps. */
const runProcess = (args: ReadonlyArray<string>, runDir: string, stop?: { readonly signal: NodeJS.Signals }) =>
  new Promise<Finished>((resolve) => {
    fs.mkdirSync(runDir, { recursive: true })
    const child = spawnNode(args)
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    let sent = false
    const watcher = stop === undefined ? undefined : fs.watch(runDir, (_event, name) => {
      if (sent || name !== "metrics.jsonl") return
      const steps = fs.readFileSync(metricsFile(runDir), "utf8").split("\n").filter((l) =>
        l.includes("\"loss\"")
      ).length
      if (steps >= SIGNAL_AFTER) {
        sent = true
        child.kill(stop.signal)
      }
    })
    void exited(child).then(({ code, signal }) => {
      watcher?.close()
      resolve({ code, signal, stdout, stderr })
    })
  })

const completeSteps = (runDir: string) => checkpointDirs(checkpointsDir(runDir)).complete

/**
 * The stopped run's state: it ran whole steps only and saved exactly where it stopped. Returns the
 * stop step.
 */
const assertStoppedCleanly = async (runDir: string, stopped: Finished) => {
  assert.strictEqual(stopped.code, 0, `exit ${stopped.code}/${stopped.signal}: ${stopped.stderr}`)
  const steps = stepLines(runDir).map((r) => r.step)
  const last = steps.at(-1)!
  assert.deepStrictEqual(steps, Array.from({ length: last }, (_, i) => i + 1))
  assert.isAtLeast(last, SIGNAL_AFTER)
  assert.isBelow(last, STEPS, "the signal did not stop the run early")
  assert.strictEqual(completeSteps(runDir).at(-1), last, "the last checkpoint is at the step the run stopped on")
  assert.deepStrictEqual(checkpointDirs(checkpointsDir(runDir)).temporary, [])
  const report = await withStore(runDir, (store) => store.verify(last))
  assert.deepStrictEqual(report.problems, [])
  return last
}

/**
 * The stopped-and-resumed run ends in the uninterrupted run's state and logged the same steps. Its
 * evaluations are the reference's plus, possibly, one at the step where the stop was handled.
 */
const assertEndsLike = async (runDir: string, stoppedAt: number, reference: RunResult, referenceDir: string) => {
  const final = await withStore(runDir, (store) => store.load(STEPS))
  assertSameTensors(final.tensors.model, reference.params, "model")
  assertSameTensors(final.tensors.optimizer, reference.optimizer, "optimizer")
  assert.deepStrictEqual(stepLines(runDir), stepLines(referenceDir))
  const expectedEvals = evalLines(referenceDir)
  const regular = new Set(expectedEvals.map((e) => e.step))
  assert.deepStrictEqual(evalLines(runDir).filter((e) => regular.has(e.step) || e.step !== stoppedAt), expectedEvals)
}

describe("graceful stop on signals", () => {
  it("continuum train: SIGTERM mid-run saves at the current step and exits 0; --resume exact finishes the same run", async () => {
    const dir = tempDir("continuum-signal-")
    const runDir = path.join(dir, "run")
    const sets = (runDir: string) =>
      [
        `runDir=${runDir}`,
        `steps=${STEPS}`,
        "seed=3",
        ...TINY_MODEL_SETS,
        "schedule.warmupSteps=3",
        "eval.every=10",
        "eval.batches=1",
        // Only the stop and the end save: the checkpoint found must be the one the signal caused.
        "checkpoint.every=0"
      ].flatMap((s) => ["--set", s])
    const cli = (runDir: string, ...more: Array<string>) => ["bin/continuum", "train", ...sets(runDir), ...more]

    const stopped = await runProcess(cli(runDir), runDir, { signal: "SIGTERM" })
    const at = await assertStoppedCleanly(runDir, stopped)
    assert.deepStrictEqual(completeSteps(runDir), [at])
    assert.include(stopped.stdout, `trained to step ${at}`)

    const resumed = await runProcess(cli(runDir, "--resume", "exact"), runDir)
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.deepStrictEqual(completeSteps(runDir), [at, STEPS])

    const referenceDir = path.join(dir, "reference")
    const reference = await Effect.runPromise(
      Effect.flatMap(
        loadRunConfig(undefined, sets(referenceDir).filter((_, i) => i % 2 === 1)),
        (config) => trainRun(config)
      )
        .pipe(Effect.provide(NodeFileSystem.layer))
    )
    await assertEndsLike(runDir, at, reference, referenceDir)
  })

  it("SIGINT with background saves: the stop awaits the save; auto resume finishes the same run", async () => {
    const dir = tempDir("continuum-signal-")
    const runDir = path.join(dir, "run")
    const overrides = { steps: STEPS, batch: { dp: 2 }, checkpoint: { every: 3, async: true, keepLatest: 100 } }

    const stopped = await runProcess(trainingChildArgs(runDir, overrides), runDir, { signal: "SIGINT" })
    const at = await assertStoppedCleanly(runDir, stopped)
    assert.include(stopped.stdout, "\"_tag\":\"Finished\"")

    const resumed = await runProcess(trainingChildArgs(runDir, overrides, "auto"), runDir)
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.include(resumed.stdout, `{"_tag":"Started","step":${at},`)

    const referenceDir = path.join(dir, "reference")
    const reference = await Effect.runPromise(
      Effect.flatMap(tinyConfig(referenceDir, overrides), (config) => trainRun(config))
    )
    await assertEndsLike(runDir, at, reference, referenceDir)
  })
})
