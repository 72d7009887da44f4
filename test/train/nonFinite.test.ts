/**
 * A run that diverges stops at the first update with a NaN or ±∞ — in its loss or gradient norm,
 * or left in the weights or optimizer state — with `NonFiniteTraining` (exit 1). Nothing of that
 * update is recorded or saved, so the newest checkpoint is finite and verifies, and the advice the
 * error gives resumes the run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { checkpointsDir } from "../../src/checkpoint/layout.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { firstNonFinite } from "../../src/ranks/finite.ts"
import type { Tensor } from "../../src/tensor/tensor.ts"
import { NonFiniteTraining } from "../../src/train/errors.ts"
import { metricsFile, readMetrics } from "../../src/train/metricsLine.ts"
import { checkpointDirs, withStore } from "../support/checkpoints.ts"
import { repoRoot } from "../support/processes.ts"
import { tempDir, TINY_MODEL_SETS, tinyConfig, trainRun } from "../support/tinyRun.ts"

const cpuKernels = makeCpuKernels()
const tensor = (values: ReadonlyArray<number>): Tensor => ({ shape: [values.length], data: Float32Array.from(values) })

/** `bin/continuum train` on a tiny model, with `more` flags; stdout, stderr and the exit code. */
const train = (runDir: string, ...more: Array<string>) => {
  const sets = [
    `runDir=${runDir}`,
    "steps=12",
    "seed=3",
    ...TINY_MODEL_SETS,
    "schedule.warmupSteps=0",
    "eval.every=0",
    "eval.batches=1"
  ].flatMap((s) => ["--set", s])
  const cli = spawnSync(process.execPath, [path.join(repoRoot, "bin", "continuum"), "train", ...sets, ...more], {
    cwd: repoRoot,
    encoding: "utf8"
  })
  return { code: cli.status, stdout: cli.stdout, stderr: cli.stderr }
}

/** The CLI's error lines; a failure prints exactly one, with no stack trace. */
const errorLines = (stderr: string) => {
  assert.notMatch(stderr, /^\s+at /m, "no stack trace")
  return stderr.split("\n").filter((line) => line.startsWith("error:"))
}

const completeSteps = (runDir: string) => checkpointDirs(checkpointsDir(runDir)).complete

/** The newest checkpoint verifies and every tensor of it is finite. */
const assertNewestFinite = async (runDir: string, step: number) => {
  assert.strictEqual(completeSteps(runDir).at(-1), step)
  const report = await withStore(runDir, (store) => store.verify(step))
  assert.deepStrictEqual(report.problems, [])
  const loaded = await withStore(runDir, (store) => store.load(step))
  for (const component of [loaded.tensors.model, loaded.tensors.optimizer]) {
    assert.isUndefined(firstNonFinite(cpuKernels, new Map(Object.entries(component))))
  }
}

/** Every update line of the history has a number for its loss and gradient norm; returns their steps. */
const finiteStepLines = (runDir: string) => {
  const lines = readMetrics(metricsFile(runDir)).filter((r) => "loss" in r)
  for (const line of lines) {
    assert.isTrue(Number.isFinite(line.loss) && Number.isFinite(line.gradNorm), JSON.stringify(line))
  }
  return lines.map((r) => r.step)
}

describe("firstNonFinite", () => {
  it("finds the first NaN or ±∞ by tensor name, and nothing in finite tensors, however large", () => {
    const max = 3.4028234663852886e38
    assert.isUndefined(
      firstNonFinite(cpuKernels, new Map([["a", tensor([max, max, max, -max])], ["b", tensor([0, 1e-45])]]))
    )
    assert.deepStrictEqual(
      firstNonFinite(cpuKernels, new Map([["a", tensor([1, 2])], ["b", tensor([3, Infinity, NaN])]])),
      {
        name: "b",
        value: Infinity
      }
    )
    const nan = firstNonFinite(cpuKernels, new Map([["a", tensor([-Infinity, NaN])]]))
    assert.strictEqual(nan?.name, "a")
    assert.strictEqual(nan?.value, -Infinity)
    // ∞ and −∞ cancel to NaN in the sum; the scan still finds the element.
    assert.deepStrictEqual(firstNonFinite(cpuKernels, new Map([["a", tensor([Infinity, -Infinity])]])), {
      name: "a",
      value: Infinity
    })
  })
})

describe("non-finite training", () => {
  it.effect("weights that overflow in an update stop the run at that update; nothing of it is recorded", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      // AdamW moves each weight by about the LR in its first update: 1e39 overflows float32.
      const config = yield* tinyConfig(runDir, {
        optimizer: { lr: 1e39 },
        schedule: { warmupSteps: 0 },
        checkpoint: { every: 1 }
      })
      const error = yield* Effect.flip(trainRun(config))
      assert.instanceOf(error, NonFiniteTraining)
      const failure = error as NonFiniteTraining
      assert.strictEqual(failure.step, 1)
      assert.isTrue(failure.applied)
      assert.match(failure.quantity, /^parameter /)
      assert.isFalse(Number.isFinite(failure.value))
      assert.isUndefined(failure.newestCheckpoint)
      assert.include(failure.message, "no checkpoint precedes it")
      assert.deepStrictEqual(completeSteps(runDir), [])
      assert.deepStrictEqual(finiteStepLines(runDir), [])
    }))

  it("bin/continuum train: a diverging LR exits 1 naming the update; the newest checkpoint is finite and verifies", async () => {
    const runDir = path.join(tempDir("continuum-nonfinite-"), "run")
    // lr 1e6: the loss is finite after update 2 but NaN in update 3. keepLatest 1: retention must
    // not delete the last finite checkpoint because of the failure.
    const run = train(
      runDir,
      "--set",
      "optimizer.lr=1e6",
      "--set",
      "checkpoint.every=2",
      "--set",
      "checkpoint.keepLatest=1"
    )
    assert.strictEqual(run.code, 1, run.stderr)
    const lines = errorLines(run.stderr)
    assert.strictEqual(lines.length, 1, run.stderr)
    assert.match(lines[0]!, /^error: NonFiniteTraining: update 3 has a non-finite loss \(NaN\) and was not applied;/)
    assert.include(lines[0]!, "resume from step 2")
    assert.deepStrictEqual(completeSteps(runDir), [2])
    await assertNewestFinite(runDir, 2)
    assert.deepStrictEqual(finiteStepLines(runDir), [1, 2])
  })

  it("bin/continuum train: the error's advice resumes from the last finite checkpoint with the lower LR", async () => {
    const dir = tempDir("continuum-nonfinite-")
    const runDir = path.join(dir, "run")
    const cadence = ["--set", "checkpoint.every=4"]
    const healthy = train(runDir, ...cadence, "--until", "4")
    assert.strictEqual(healthy.code, 0, healthy.stderr)

    // `continue` keeps the old schedule's LR level: a raised optimizer.lr is not applied (and a
    // lowered one would not be either), which is why the advice uses another policy.
    const kept = train(runDir, ...cadence, "--set", "optimizer.lr=1e6", "--resume", "continue")
    assert.strictEqual(kept.code, 0, kept.stderr)
    assert.include(kept.stderr, "optimizer.lr 1000000 is not applied")

    // A rebuild applies the LR at once: raised a millionfold at step 4, it diverges before the
    // next checkpoint is due.
    const policyFile = path.join(dir, "policy.json")
    const raisedDir = path.join(dir, "raised")
    assert.strictEqual(train(raisedDir, ...cadence, "--until", "4").code, 0)
    const rebuild = { model: "load", optimizer: "load", schedule: "rebuild", data: "load", step: "keep" }
    fs.writeFileSync(policyFile, JSON.stringify({ ...rebuild, allowDiscontinuity: true }))
    const raised = train(raisedDir, ...cadence, "--set", "optimizer.lr=1e6", "--resume", policyFile)
    assert.strictEqual(raised.code, 1, raised.stderr)
    const lines = errorLines(raised.stderr)
    assert.strictEqual(lines.length, 1, raised.stderr)
    const failed = Number(/^error: NonFiniteTraining: update (\d+) /.exec(lines[0]!)?.[1])
    assert.include([5, 6, 7], failed, lines[0])
    assert.include(lines[0]!, "resume from step 4")
    await assertNewestFinite(raisedDir, 4)
    assert.deepStrictEqual(finiteStepLines(raisedDir), Array.from({ length: failed - 1 }, (_, i) => i + 1))

    // Follow the advice as written: the policy it prints, with a lower LR.
    const advised = /POLICY\.json holding (\{.*?\}) /.exec(lines[0]!)
    assert.isNotNull(advised, lines[0])
    const advisedFile = path.join(dir, "advised.json")
    fs.writeFileSync(advisedFile, advised![1]!)
    const resumed = train(raisedDir, ...cadence, "--set", "optimizer.lr=3e-3", "--resume", advisedFile)
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.include(resumed.stdout, "trained to step 12")
    assert.deepStrictEqual(finiteStepLines(raisedDir), Array.from({ length: 12 }, (_, i) => i + 1))
    const lrs = readMetrics(metricsFile(raisedDir)).filter((r) => "loss" in r && r.step > 4).map((r) => r.lr)
    // The configured schedule from step 4 on: its peak, then its decay.
    assert.strictEqual(lrs[0], 3e-3)
    assert.isTrue(lrs.every((lr) => lr <= 3e-3), JSON.stringify(lrs))
    await assertNewestFinite(raisedDir, 12)
  })
})
