import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { microBatchRange, nextCursor, rankMicroBatches, resolveGeometry } from "../../src/data/geometry.ts"

// A geometry whose global batch micro × dp does not divide is refused when the configuration is
// decoded (test/config/consistency.test.ts); resolving a decoded one cannot fail.
describe("batch geometry", () => {
  it("derives accumulation and micro-batch count", () => {
    const g = resolveGeometry({ global: 16, micro: 2, dp: 4 })
    assert.deepStrictEqual(g, { global: 16, micro: 2, dp: 4, accumulation: 2, microBatches: 8 })
    assert.deepStrictEqual(microBatchRange(g, 100, 3), { start: 106, end: 108 })
    assert.strictEqual(nextCursor(g, 100), 116)
  })

  it("gives ranks contiguous blocks that partition the step's micro-batches in order", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 8 }),
      (micro, dp, accumulation) => {
        const g = resolveGeometry({ global: micro * dp * accumulation, micro, dp })
        const all = Array.from({ length: dp }, (_, r) => rankMicroBatches(g, r)).flat()
        return g.accumulation === accumulation &&
          all.length === g.microBatches &&
          all.every((j, i) => j === i) &&
          rankMicroBatches(g, dp - 1)[0] === (dp - 1) * accumulation
      }
    ))
  })

  it("rejects out-of-range ranks and micro-batch indices", () => {
    const g = resolveGeometry({ global: 8, micro: 2, dp: 2 })
    assert.throws(() => rankMicroBatches(g, 2), RangeError)
    assert.throws(() => microBatchRange(g, 0, 4), RangeError)
  })
})
