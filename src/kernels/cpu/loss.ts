import type { FloatArray } from "../../tensor/tensor.ts"
import * as check from "../checks.ts"

/** The largest of `x[o … o + n)`. */
const rowMax = (x: FloatArray, o: number, n: number): number => {
  let max = -Infinity
  for (let j = 0; j < n; j++) if (x[o + j] > max) max = x[o + j]
  return max
}

/** Writes `out[o + j] = exp(x[o + j] − shift)` for j < n and returns their sum, in index order. */
const expShifted = (x: FloatArray, shift: number, out: FloatArray, o: number, n: number): number => {
  let sum = 0
  for (let j = 0; j < n; j++) {
    const e = Math.exp(x[o + j] - shift)
    out[o + j] = e
    sum += e
  }
  return sum
}

/**
 * Softmax cross-entropy per row, via a stable log-sum-exp (shift by the row maximum, sum in
 * float64). Returns the float64 sum of row losses; `dLogits = (softmax − onehot)·gradScale`.
 */
export const crossEntropy = (
  logits: FloatArray,
  targets: Int32Array,
  dLogits: FloatArray,
  rows: number,
  vocab: number,
  gradScale: number
): number => {
  check.crossEntropy(logits, targets, dLogits, rows, vocab)
  let total = 0
  for (let r = 0, o = 0; r < rows; r++, o += vocab) {
    const t = targets[r]
    const max = rowMax(logits, o, vocab)
    // The shifted exponentials are parked in dLogits (one exp per entry), then scaled.
    const sum = expShifted(logits, max, dLogits, o, vocab)
    const lse = max + Math.log(sum)
    total += lse - logits[o + t]
    const s = gradScale / sum
    for (let j = 0; j < vocab; j++) dLogits[o + j] *= s
    dLogits[o + t] -= gradScale
  }
  return total
}

export const softmax = (x: FloatArray, out: FloatArray, rows: number, cols: number): void => {
  check.softmax(x, out, rows, cols)
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    const sum = expShifted(x, rowMax(x, o, cols), out, o, cols)
    const inv = 1 / sum
    for (let j = 0; j < cols; j++) out[o + j] *= inv
  }
}
