/**
 * A rank that fails — an exception in its thread, or the thread gone — stops the run with a typed
 * error naming the rank and the update (exit 1), loses no committed checkpoint, and `--resume
 * exact` then continues to the same end, bit for bit, as the run that never failed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { withStore } from "../support/checkpoints.ts"
import { assertSameTensors } from "../support/compare.ts"
import { stepLines, trajectory } from "../support/metrics.ts"
import { runCli } from "../support/processes.ts"
import { tempDir, writeTinyConfig } from "../support/tinyRun.ts"

const STEPS = 8
const overrides = { steps: STEPS, batch: { dp: 2 }, checkpoint: { every: 2, async: true } }

const train = (runDir: string, extra: ReadonlyArray<string> = [], env: Record<string, string> = {}) =>
  runCli(["train", "--config", writeTinyConfig(`${runDir}.json`, runDir, overrides), ...extra], env)

describe("a failing rank", () => {
  it.each([
    ["1:5:throw", 1, 5, "injected fault"],
    ["0:3:exit", 0, 3, "its thread ended: The worker has exited with code: 3"]
  ])(
    "%s: a typed error, exit 1, committed checkpoints intact, exact resume bit-identical",
    async (fault, rank, update, reason) => {
      const dir = tempDir("continuum-rank-fault-")
      const reference = path.join(dir, "reference")
      const run = path.join(dir, "run")
      assert.strictEqual((await train(reference)).code, 0)

      const failed = await train(run, [], { CONTINUUM_RANK_FAULT: fault })
      assert.strictEqual(failed.code, 1, failed.stderr)
      assert.include(failed.stderr, `rank ${rank} of 2 failed at update ${update}: `)
      assert.include(failed.stderr, reason)
      // Nothing of the failed update was recorded; every checkpoint before it verifies.
      assert.strictEqual(stepLines(run).at(-1)!.step, update - 1)
      const committed = Array.from({ length: Math.floor((update - 1) / 2) }, (_, i) => 2 * (i + 1))
      const reports = await withStore(run, (store) => Effect.forEach(committed, (step) => store.verify(step)))
      for (const r of reports) assert.deepStrictEqual(r.problems, [], `step ${r.step}`)

      const resumed = await train(run, ["--resume", "exact"])
      assert.strictEqual(resumed.code, 0, resumed.stderr)
      const ours = await withStore(run, (store) => store.load(STEPS))
      const theirs = await withStore(reference, (store) => store.load(STEPS))
      assertSameTensors(ours.tensors.model, theirs.tensors.model, "model")
      assertSameTensors(ours.tensors.optimizer, theirs.tensors.optimizer, "optimizer")
      assert.deepStrictEqual(
        trajectory(run).filter((l) => l.step >= update),
        trajectory(reference).filter((l) => l.step >= update)
      )
    },
    120_000
  )
})
