import type { FloatArray } from "../../tensor/tensor.ts"

/**
 * Row-wise causal softmax of T×T raw scores at `pOff`, in place: row i keeps columns 0…i, scaled
 * by `scale`, max-shifted and normalised; the entries above the diagonal become 0. One definition
 * for every path that computes it in TypeScript (float64, and float32 shapes the wasm softmax does
 * not take), so they round alike.
 */
export const causalSoftmax = (probs: FloatArray, pOff: number, T: number, scale: number): void => {
  for (let i = 0; i < T; i++) {
    const row = pOff + i * T
    let max = -Infinity
    for (let j = 0; j <= i; j++) {
      const s = probs[row + j] * scale
      if (s > max) max = s
    }
    let sum = 0
    for (let j = 0; j <= i; j++) {
      const e = Math.exp(probs[row + j] * scale - max)
      probs[row + j] = e
      sum += e
    }
    const inv = 1 / sum
    for (let j = 0; j <= i; j++) probs[row + j] *= inv
    for (let j = i + 1; j < T; j++) probs[row + j] = 0
  }
}
