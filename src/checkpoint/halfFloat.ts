/**
 * Bit-level conversions between float32 and the two 16-bit formats safetensors files carry:
 * IEEE 754 binary16 ("F16") and bfloat16 ("BF16").
 *
 * Narrowing rounds to nearest, ties to even — the rounding PyTorch applies in `tensor.half()` and
 * `tensor.bfloat16()` — so an exported file holds the same values PyTorch would produce. Widening
 * is exact. NaN stays NaN (quieted, sign kept); overflow becomes infinity.
 */

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** The raw bits of `x` rounded to float32. */
export const float32Bits = (x: number): number => {
  f32[0] = x
  return u32[0]
}

/** The float32 whose raw bits are `bits`. */
export const float32FromBits = (bits: number): number => {
  u32[0] = bits >>> 0
  return f32[0]
}

/** float32 bits → binary16 bits, rounding to nearest even. */
export const f32BitsToF16 = (bits: number): number => {
  const sign = (bits >>> 16) & 0x8000
  const exponent = (bits >>> 23) & 0xff
  const mantissa = bits & 0x7fffff

  if (exponent === 0xff) {
    // Infinity keeps a zero mantissa; NaN keeps its top payload bits and is forced quiet.
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13)
  }

  const halfExponent = exponent - 127 + 15
  if (halfExponent >= 0x1f) return sign | 0x7c00

  if (halfExponent >= 1) {
    // Normal result: drop 13 mantissa bits; a carry out of the mantissa correctly bumps the
    // exponent, up to infinity.
    const rest = mantissa & 0x1fff
    let half = (halfExponent << 10) | (mantissa >>> 13)
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1
    return sign | half
  }

  // Subnormal result: the value is M · 2^(exponent − 150) with the implicit bit in M, and the
  // binary16 subnormal unit is 2^−24, so the result is M shifted right by 14 − halfExponent.
  const shift = 14 - halfExponent
  if (shift > 24) return sign // below half the smallest subnormal: rounds to zero
  const full = mantissa | 0x800000
  let half = full >>> shift
  const rest = full & ((1 << shift) - 1)
  const halfway = 1 << (shift - 1)
  if (rest > halfway || (rest === halfway && (half & 1) === 1)) half += 1
  return sign | half
}

/** binary16 bits → float32 bits (exact). */
export const f16ToF32Bits = (half: number): number => {
  const sign = (half & 0x8000) << 16
  const exponent = (half >>> 10) & 0x1f
  const mantissa = half & 0x3ff

  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0
  if (exponent !== 0) return (sign | ((exponent - 15 + 127) << 23) | (mantissa << 13)) >>> 0
  if (mantissa === 0) return sign >>> 0

  // Subnormal binary16 is normal in float32: shift the leading one into the implicit position.
  let m = mantissa
  let e = 127 - 15 + 1
  while ((m & 0x400) === 0) {
    m <<= 1
    e -= 1
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0
}

/** float32 bits → bfloat16 bits, rounding to nearest even. */
export const f32BitsToBf16 = (bits: number): number => {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
    // NaN: truncating could clear every payload bit and turn it into infinity.
    return ((bits >>> 16) | 0x40) & 0xffff
  }
  const lsb = (bits >>> 16) & 1
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff
}

/** bfloat16 bits → float32 bits (exact). */
export const bf16ToF32Bits = (half: number): number => (half << 16) >>> 0
