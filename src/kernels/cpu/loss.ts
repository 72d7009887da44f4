import type { FloatArray } from "../../tensor/tensor.ts"
import { KernelArgumentError, requireLength } from "./errors.ts"

/**
 * Softmax cross-entropy per row, via a stable log-sum-exp (shift by the row maximum, sum in
 * float64). Returns the float64 sum of row losses; `dLogits = (softmax − onehot)·gradScale`.
 */
export const crossEntropy = (
  logits: FloatArray, targets: Int32Array, dLogits: FloatArray,
  rows: number, vocab: number, gradScale: number
): number => {
  requireLength("crossEntropy", "logits", logits.length, rows * vocab)
  requireLength("crossEntropy", "dLogits", dLogits.length, rows * vocab)
  requireLength("crossEntropy", "targets", targets.length, rows)
  let total = 0
  for (let r = 0, o = 0; r < rows; r++, o += vocab) {
    const t = targets[r]
    if (!(t >= 0 && t < vocab)) {
      throw new KernelArgumentError({ kernel: "crossEntropy", field: `targets[${r}]`, value: t, expected: `in [0, ${vocab})` })
    }
    let max = -Infinity
    for (let j = 0; j < vocab; j++) if (logits[o + j] > max) max = logits[o + j]
    // The shifted exponentials are parked in dLogits (one exp per entry), then scaled.
    let sum = 0
    for (let j = 0; j < vocab; j++) {
      const e = Math.exp(logits[o + j] - max)
      dLogits[o + j] = e
      sum += e
    }
    const lse = max + Math.log(sum)
    total += lse - logits[o + t]
    const s = gradScale / sum
    for (let j = 0; j < vocab; j++) dLogits[o + j] *= s
    dLogits[o + t] -= gradScale
  }
  return total
}

export const softmax = (x: FloatArray, out: FloatArray, rows: number, cols: number): void => {
  requireLength("softmax", "x", x.length, rows * cols)
  requireLength("softmax", "out", out.length, rows * cols)
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    let max = -Infinity
    for (let j = 0; j < cols; j++) if (x[o + j] > max) max = x[o + j]
    let sum = 0
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[o + j] - max)
      out[o + j] = e
      sum += e
    }
    const inv = 1 / sum
    for (let j = 0; j < cols; j++) out[o + j] *= inv
  }
}
