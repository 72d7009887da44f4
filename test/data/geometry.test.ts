import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { microBatchRange, nextCursor, rankMicroBatches, resolveGeometry } from "../../src/data/geometry.ts"

// A geometry whose micro-batch does not divide the global batch, or with more ranks than
// micro-batches, is refused when the configuration is decoded (test/config/consistency.test.ts);
// resolving a decoded one cannot fail.
describe("batch geometry", () => {
  it("derives accumulation and micro-batch count", () => {
    const g = resolveGeometry({ global: 16, micro: 2, dp: 4 }, 2)
    assert.deepStrictEqual(g, { global: 16, micro: 2, dp: 4, accumulation: 2, microBatches: 8 })
    assert.deepStrictEqual(microBatchRange(g, 100, 3), { start: 106, end: 108 })
    assert.strictEqual(nextCursor(g, 100), 116)
  })

  it("resolves auto to one rank per core, at most one per micro-batch", () => {
    assert.strictEqual(resolveGeometry({ global: 16, micro: 4, dp: "auto" }, 2).dp, 2)
    assert.strictEqual(resolveGeometry({ global: 16, micro: 4, dp: "auto" }, 64).dp, 4)
    assert.strictEqual(resolveGeometry({ global: 16, micro: 16, dp: "auto" }, 8).dp, 1)
  })

  it("gives ranks the micro-batches in turn, partitioning the step's, one fewer at most", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 24 }),
      fc.integer({ min: 1, max: 24 }),
      (micro, microBatches, ranks) => {
        const dp = Math.min(ranks, microBatches)
        const g = resolveGeometry({ global: micro * microBatches, micro, dp }, 1)
        const perRank = Array.from({ length: dp }, (_, r) => rankMicroBatches(g, r))
        const all = perRank.flat().sort((a, b) => a - b)
        const counts = perRank.map((js) => js.length)
        return g.accumulation === Math.max(...counts) &&
          Math.max(...counts) - Math.min(...counts) <= 1 &&
          all.length === g.microBatches &&
          all.every((j, i) => j === i) &&
          perRank.every((js, r) => js.every((j, a) => j === a * dp + r))
      }
    ))
  })

  it("rejects out-of-range ranks and micro-batch indices", () => {
    const g = resolveGeometry({ global: 8, micro: 2, dp: 2 }, 2)
    assert.throws(() => rankMicroBatches(g, 2), RangeError)
    assert.throws(() => microBatchRange(g, 0, 4), RangeError)
  })
})
