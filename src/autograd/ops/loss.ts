import { allocate, shapeString } from "../../tensor/tensor.ts"
import { ShapeError } from "../errors.ts"
import type { Tape } from "../tape.ts"
import { Var } from "../var.ts"

export interface LossResult {
  /** A `[1]` node holding the loss (rounded to the tape's dtype); the root of backward. */
  readonly node: Var
  /** The exact float64 sum of per-row losses. */
  readonly total: number
}

/**
 * Summed softmax cross-entropy of `logits [rows, V]` against `targets`. The kernel produces
 * `dLogits = (softmax − onehot)·gradScale` during the forward pass; backward multiplies it by
 * the incoming gradient of the loss (1 when the loss is the root).
 */
export const crossEntropy = (t: Tape, logits: Var, targets: Int32Array, gradScale = 1): LossResult => {
  if (logits.shape.length !== 2 || logits.shape[0] !== targets.length) {
    throw new ShapeError({
      op: "crossEntropy",
      operand: "logits",
      expected: `[${targets.length}, V] (one row per target)`,
      actual: shapeString(logits.shape)
    })
  }
  const [rows, vocab] = logits.shape
  const dLogits = t.scratch(logits.size)
  const total = t.k.crossEntropy(logits.value, targets, dLogits, rows, vocab, gradScale)
  const value = allocate(t.dtype, 1)
  value[0] = total
  const node = new Var([1], value, logits.requiresGrad)
  t.record(() => {
    if (!node.hasGrad || node.grad === null || !logits.requiresGrad) return
    // The incoming gradient, read on the host through the storage (the kernels may hold it elsewhere).
    const g = (node.grad instanceof Float32Array ? t.k.storage.read(node.grad) : node.grad)[0]
    if (g === 1 && logits.grad === null) {
      // The usual case: the loss is the root and nothing else feeds logits. dLogits already is
      // the gradient, so it becomes the buffer rather than being copied.
      logits.grad = dLogits
      logits.hasGrad = true
      return
    }
    const { buffer, accumulate } = t.gradTarget(logits)
    if (accumulate) {
      const tmp = t.scratch(logits.size)
      t.k.scale(dLogits, g, tmp)
      t.k.addInPlace(buffer, tmp)
    } else {
      t.k.scale(dLogits, g, buffer)
    }
  })
  return { node, total }
}
