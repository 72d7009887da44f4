import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import { BatchGeometryInvalid } from "../../src/data/errors.ts"
import { microBatchRange, nextCursor, rankMicroBatches, resolveGeometry } from "../../src/data/geometry.ts"

describe("batch geometry", () => {
  it.effect("derives accumulation and micro-batch count", () =>
    Effect.gen(function*() {
      const g = yield* resolveGeometry({ global: 16, micro: 2, dp: 4 })
      assert.deepStrictEqual(g, { global: 16, micro: 2, dp: 4, accumulation: 2, microBatches: 8 })
      assert.deepStrictEqual(microBatchRange(g, 100, 3), { start: 106, end: 108 })
      assert.strictEqual(nextCursor(g, 100), 116)
    }))

  it.effect("rejects a global batch that micro × dp does not divide, naming the fields", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolveGeometry({ global: 16, micro: 3, dp: 2 }))
      assert.instanceOf(error, BatchGeometryInvalid)
      assert.strictEqual(error._tag, "BatchGeometryInvalid")
      assert.deepStrictEqual([error.global, error.micro, error.dp], [16, 3, 2])
      assert.include(error.message, "batch.global = 16")
      assert.include(error.message, "batch.micro × batch.dp = 3 × 2 = 6")
    }))

  it("rejects non-positive or fractional fields", () => {
    for (const g of [{ global: 0, micro: 1, dp: 1 }, { global: 4, micro: 0, dp: 1 }, { global: 4, micro: 1, dp: -1 }, { global: 4, micro: 1.5, dp: 1 }]) {
      const exit = Effect.runSyncExit(resolveGeometry(g))
      assert.isTrue(Exit.isFailure(exit), JSON.stringify(g))
    }
  })

  it("gives ranks contiguous blocks that partition the step's micro-batches in order", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 8 }),
      (micro, dp, accumulation) => {
        const g = Effect.runSync(resolveGeometry({ global: micro * dp * accumulation, micro, dp }))
        const all = Array.from({ length: dp }, (_, r) => rankMicroBatches(g, r)).flat()
        return g.accumulation === accumulation &&
          all.length === g.microBatches &&
          all.every((j, i) => j === i) &&
          rankMicroBatches(g, dp - 1)[0] === (dp - 1) * accumulation
      }
    ))
  })

  it.effect("rejects out-of-range ranks and micro-batch indices", () =>
    Effect.gen(function*() {
      const g = yield* resolveGeometry({ global: 8, micro: 2, dp: 2 })
      assert.throws(() => rankMicroBatches(g, 2), RangeError)
      assert.throws(() => microBatchRange(g, 0, 4), RangeError)
    }))
})
