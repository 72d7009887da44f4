import type { FloatArray } from "../tensor/tensor.ts"

/**
 * Writes the RoPE rotation tables of every backend: `cos[pos·hd/2 + i]` and `sin[…]` of the
 * angle `pos · θ^(-2i/hd)` for pos < T, i < hd/2, computed in float64 (the arrays' type decides
 * how they are stored).
 */
export const fillRopeTables = (cos: FloatArray, sin: FloatArray, T: number, hd: number, theta: number): void => {
  const half = hd / 2
  for (let i = 0; i < half; i++) {
    const freq = Math.pow(theta, (-2 * i) / hd)
    for (let pos = 0; pos < T; pos++) {
      const angle = pos * freq
      cos[pos * half + i] = Math.cos(angle)
      sin[pos * half + i] = Math.sin(angle)
    }
  }
}
