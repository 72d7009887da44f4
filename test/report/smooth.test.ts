import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { emaSmooth, emaWeight, smoothingWindow, thinIndices } from "../../src/report/smooth.ts"

describe("emaSmooth", () => {
  it("leaves a constant series unchanged from the first point (bias-corrected)", () => {
    const out = emaSmooth(new Float64Array(50).fill(2.5), [], 0.9)
    for (const x of out) assert.closeTo(x, 2.5, 1e-12)
  })

  it("with weight 0 returns the input", () => {
    const input = Float64Array.from([3, 1, 4, 1, 5])
    assert.deepStrictEqual([...emaSmooth(input, [], 0)], [...input])
  })

  it("restarts at the given indices, so a jump stays a jump", () => {
    const input = Float64Array.from([1, 1, 1, 1, 5, 5, 5])
    const restarted = emaSmooth(input, [4], 0.9)
    assert.closeTo(restarted[4], 5, 1e-12)
    const blurred = emaSmooth(input, [], 0.9)
    assert.isBelow(blurred[4], 3)
  })

  it("passes NaN through without disturbing the average", () => {
    const out = emaSmooth(Float64Array.from([2, NaN, 2]), [], 0.5)
    assert.isTrue(Number.isNaN(out[1]))
    assert.closeTo(out[2], 2, 1e-12)
  })

  it("stays within the range of its inputs", () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 200 }),
      fc.double({ min: 0, max: 0.99, noNaN: true }),
      (xs, weight) => {
        const out = emaSmooth(Float64Array.from(xs), [], weight)
        const lo = Math.min(...xs)
        const hi = Math.max(...xs)
        for (const y of out) assert.isTrue(y >= lo - 1e-9 && y <= hi + 1e-9)
      }
    ))
  })
})

describe("smoothing window", () => {
  it("is 1 (raw) for short runs and grows to at most 100", () => {
    assert.strictEqual(smoothingWindow(0), 1)
    assert.strictEqual(smoothingWindow(120), 1)
    assert.strictEqual(smoothingWindow(5000), 50)
    assert.strictEqual(smoothingWindow(1e7), 100)
    assert.strictEqual(emaWeight(1), 0)
  })
})

describe("thinIndices", () => {
  it("keeps everything when the series is short enough", () => {
    assert.deepStrictEqual(thinIndices(Float64Array.from([1, 2, 3]), 3), [0, 1, 2])
  })

  it("keeps at most maxPoints, strictly increasing, with the ends and every bucket extreme", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 3000 }),
        fc.integer({ min: 4, max: 400 }),
        (xs, maxPoints) => {
          const values = Float64Array.from(xs)
          const kept = thinIndices(values, maxPoints)
          assert.isAtMost(kept.length, maxPoints)
          assert.strictEqual(kept[0], 0)
          assert.strictEqual(kept[kept.length - 1], xs.length - 1)
          for (let k = 1; k < kept.length; k++) assert.isAbove(kept[k], kept[k - 1])
          // the global extremes are always drawn
          const keptValues = kept.map((i) => xs[i])
          assert.strictEqual(Math.max(...keptValues), Math.max(...xs))
          assert.strictEqual(Math.min(...keptValues), Math.min(...xs))
        }
      ),
      { numRuns: 200 }
    )
  })

  it("keeps a single spike that striding would miss", () => {
    const values = new Float64Array(10_000).fill(1)
    values[4321] = 50
    const kept = thinIndices(values, 100)
    assert.include(kept, 4321)
  })
})
