import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { readMetrics } from "../../src/train/metricsLine.ts"
import { stepEvents, tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

describe("determinism", () => {
  it.effect("two runs with the same config and seed write identical losses and lrs", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const a = yield* trainRun(yield* tinyConfig(path.join(dir, "a")))
      const b = yield* trainRun(yield* tinyConfig(path.join(dir, "b")))
      const metricsA = readMetrics(path.join(dir, "a", "metrics.jsonl")).map((r) => [r.step, r.loss, r.lr, r.valLoss])
      const metricsB = readMetrics(path.join(dir, "b", "metrics.jsonl")).map((r) => [r.step, r.loss, r.lr, r.valLoss])
      assert.deepStrictEqual(metricsA, metricsB)
      assert.strictEqual(stepEvents(a.events).length, 12)
      for (const name of Object.keys(a.params)) assert.deepStrictEqual(a.params[name]!.data, b.params[name]!.data, name)
    }))

  it.effect("a different seed gives a different trajectory", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const a = yield* trainRun(yield* tinyConfig(path.join(dir, "a"), { steps: 4, checkpoint: { every: 0 } }))
      const b = yield* trainRun(yield* tinyConfig(path.join(dir, "b"), { steps: 4, seed: 8, checkpoint: { every: 0 } }))
      assert.notDeepEqual(stepEvents(a.events).map((e) => e.loss), stepEvents(b.events).map((e) => e.loss))
    }))

  it.effect("changing P and A with B and μ fixed gives bit-identical losses and weights", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const geometries = [
        { global: 8, micro: 2, dp: 1 }, // A = 4
        { global: 8, micro: 2, dp: 2 }, // A = 2
        { global: 8, micro: 2, dp: 4 } // A = 1
      ]
      const runs = []
      for (const [i, batch] of geometries.entries()) {
        runs.push(
          yield* trainRun(yield* tinyConfig(path.join(dir, `g${i}`), { steps: 6, batch, checkpoint: { every: 0 } }))
        )
      }
      const losses = runs.map((r) => stepEvents(r.events).map((e) => e.loss))
      assert.deepStrictEqual(losses[1], losses[0])
      assert.deepStrictEqual(losses[2], losses[0])
      for (const name of Object.keys(runs[0]!.params)) {
        assert.deepStrictEqual(runs[1]!.params[name]!.data, runs[0]!.params[name]!.data, name)
        assert.deepStrictEqual(runs[2]!.params[name]!.data, runs[0]!.params[name]!.data, name)
      }
    }))

  it.effect("the loss falls on real text", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const run = yield* trainRun(
        yield* tinyConfig(path.join(dir, "a"), { steps: 40, checkpoint: { every: 0 }, eval: { every: 0 } })
      )
      const losses = stepEvents(run.events).map((e) => e.loss)
      assert.isTrue(losses[losses.length - 1]! < losses[0]! - 1, `loss ${losses[0]} → ${losses[losses.length - 1]}`)
    }))
})
