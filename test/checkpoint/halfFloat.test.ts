import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  bf16ToF32Bits,
  f16ToF32Bits,
  f32BitsToBf16,
  f32BitsToF16,
  float32Bits,
  float32FromBits
} from "../../src/checkpoint/halfFloat.ts"

const f16Value = (half: number): number => float32FromBits(f16ToF32Bits(half))
const bf16Value = (half: number): number => float32FromBits(bf16ToF32Bits(half))

/**
 * The law of round-to-nearest-even for a 16-bit format whose patterns of one sign are ordered like
 * their magnitudes (`inf` is the infinity pattern): no neighbouring pattern is strictly closer,
 * a tie picks the even one, and only values at or past the overflow threshold become infinite.
 */
const assertNearestEven = (
  x: number,
  narrow: (bits: number) => number,
  widen: (half: number) => number,
  inf: number
) => {
  const half = narrow(float32Bits(x))
  const magnitude = half & 0x7fff
  const maxFinite = widen(inf - 1)
  const overflow = maxFinite + (maxFinite - widen(inf - 2)) / 2
  if (magnitude === inf) {
    assert.isTrue(Math.abs(x) >= overflow, `${x} overflowed below ${overflow}`)
    return
  }
  assert.isTrue(Math.abs(x) < overflow && magnitude < inf, `${x} → pattern 0x${half.toString(16)}`)
  const error = Math.abs(widen(half) - x)
  for (const neighbour of [half - 1, half + 1]) {
    if (neighbour < 0 || (neighbour & 0x8000) !== (half & 0x8000) || (neighbour & 0x7fff) >= inf) continue
    const other = Math.abs(widen(neighbour) - x)
    assert.isTrue(error <= other, `${x} → ${widen(half)}, but ${widen(neighbour)} is nearer`)
    if (error === other) assert.strictEqual(half & 1, 0, `the tie at ${x} must round to even`)
  }
}

describe("binary16", () => {
  it("widening then narrowing is the identity on every non-NaN pattern", () => {
    for (let half = 0; half < 0x10000; half++) {
      const isNaN16 = (half & 0x7c00) === 0x7c00 && (half & 0x3ff) !== 0
      if (isNaN16) {
        assert.isTrue(Number.isNaN(f16Value(half)))
        assert.isTrue(Number.isNaN(f16Value(f32BitsToF16(f16ToF32Bits(half)))))
      } else {
        assert.strictEqual(f32BitsToF16(f16ToF32Bits(half)), half, `pattern 0x${half.toString(16)}`)
      }
    }
  })

  it("decodes known values", () => {
    assert.strictEqual(f16Value(0x3c00), 1)
    assert.strictEqual(f16Value(0xc000), -2)
    assert.strictEqual(f16Value(0x7bff), 65504)
    assert.strictEqual(f16Value(0x0001), 2 ** -24)
    assert.strictEqual(f16Value(0x0400), 2 ** -14)
    assert.strictEqual(f16Value(0x7c00), Infinity)
    assert.isTrue(Object.is(f16Value(0x8000), -0))
  })

  it("rounds ties to even and overflows to infinity", () => {
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: even is 1.
    assert.strictEqual(f32BitsToF16(float32Bits(1 + 2 ** -11)), 0x3c00)
    // 1 + 3·2^-11 lies halfway between 1 + 2^-10 and 1 + 2^-9: even is the latter.
    assert.strictEqual(f32BitsToF16(float32Bits(1 + 3 * 2 ** -11)), 0x3c02)
    assert.strictEqual(f32BitsToF16(float32Bits(65520)), 0x7c00)
    assert.strictEqual(f32BitsToF16(float32Bits(65519)), 0x7bff)
    // Half the smallest subnormal is a tie with zero; just above it rounds up.
    assert.strictEqual(f32BitsToF16(float32Bits(2 ** -25)), 0x0000)
    assert.strictEqual(f32BitsToF16(float32Bits(2 ** -25 * 1.0001)), 0x0001)
    assert.strictEqual(f32BitsToF16(float32Bits(-1e-30)), 0x8000)
    assert.isTrue(Number.isNaN(f16Value(f32BitsToF16(float32Bits(NaN)))))
  })

  it("rounds every float32 to a nearest binary16, ties to even", () => {
    fc.assert(
      fc.property(
        fc.float({ noNaN: true, noDefaultInfinity: true }),
        (x) => assertNearestEven(x, f32BitsToF16, f16Value, 0x7c00)
      ),
      { numRuns: 3000 }
    )
    // Dense coverage of the subnormal and tie-prone ranges.
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 20), max: 2 ** 20 }),
        fc.integer({ min: -26, max: 16 }),
        (m, e) => assertNearestEven(Math.fround(m * 2 ** (e - 10)), f32BitsToF16, f16Value, 0x7c00)
      ),
      { numRuns: 3000 }
    )
  })
})

describe("bfloat16", () => {
  it("widening then narrowing is the identity on every non-NaN pattern", () => {
    for (let half = 0; half < 0x10000; half++) {
      const isNaN16 = (half & 0x7f80) === 0x7f80 && (half & 0x7f) !== 0
      if (isNaN16) assert.isTrue(Number.isNaN(bf16Value(f32BitsToBf16(bf16ToF32Bits(half)))))
      else assert.strictEqual(f32BitsToBf16(bf16ToF32Bits(half)), half)
    }
  })

  it("rounds ties to even and keeps NaN a NaN", () => {
    assert.strictEqual(f32BitsToBf16(float32Bits(1 + 2 ** -8)), 0x3f80)
    assert.strictEqual(f32BitsToBf16(float32Bits(1 + 3 * 2 ** -8)), 0x3f82)
    // A NaN whose payload lies only in the low 16 bits must not become infinity.
    assert.isTrue(Number.isNaN(bf16Value(f32BitsToBf16(0x7f800001))))
    assert.strictEqual(f32BitsToBf16(float32Bits(3.4028234663852886e38)), 0x7f80)
  })

  it("rounds every float32 to a nearest bfloat16, ties to even", () => {
    fc.assert(
      fc.property(
        fc.float({ noNaN: true, noDefaultInfinity: true }),
        (x) => assertNearestEven(x, f32BitsToBf16, bf16Value, 0x7f80)
      ),
      { numRuns: 3000 }
    )
    // Values with few significant bits hit the ties often, across the whole exponent range.
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 10), max: 2 ** 10 }),
        fc.integer({ min: -150, max: 118 }),
        (m, e) => assertNearestEven(Math.fround(m * 2 ** e), f32BitsToBf16, bf16Value, 0x7f80)
      ),
      { numRuns: 3000 }
    )
  })
})
