/** The first `length` values of x, without a copy (operands may be longer than the sizes demand). */
export const leading = (x: Float32Array, length: number): Float32Array =>
  x.length === length ? x : x.subarray(0, length)
