import { shapeString } from "../../tensor/tensor.ts"
import { ShapeError } from "../errors.ts"
import type { Tape } from "../tape.ts"
import type { Var } from "../var.ts"
import { anyRequiresGrad, lastDim } from "./common.ts"

/** `c[m,n] = a[m,k]·b[k,n]`; backward `da = dc·bᵀ`, `db = aᵀ·dc`. */
export const matmul = (t: Tape, a: Var, b: Var): Var => {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) {
    throw new ShapeError({
      op: "matmul",
      operand: "b",
      expected: `[${a.shape[1] ?? "?"}, n] for a of shape ${shapeString(a.shape)}`,
      actual: shapeString(b.shape)
    })
  }
  const [m, k] = a.shape
  const n = b.shape[1]
  const c = t.output([m, n], anyRequiresGrad(a, b))
  t.k.matmul(a.value, b.value, c.value, m, n, k, false, false, false)
  t.record(() => {
    if (!c.hasGrad || c.grad === null) return
    const dc = c.grad
    if (a.requiresGrad) {
      const { buffer, accumulate } = t.gradTarget(a)
      t.k.matmul(dc, b.value, buffer, m, k, n, false, true, accumulate)
    }
    if (b.requiresGrad) {
      const { buffer, accumulate } = t.gradTarget(b)
      t.k.matmul(a.value, dc, buffer, k, n, m, true, false, accumulate)
    }
  })
  return c
}

/**
 * A bias-free linear layer over the last axis: `y = x·Wᵀ` with `W` stored `[out, in]`.
 * Backward: `dx = dy·W`, `dW = dyᵀ·x` (summed over all leading axes of x).
 */
export const linear = (t: Tape, x: Var, w: Var): Var => {
  if (w.shape.length !== 2) {
    throw new ShapeError({ op: "linear", operand: "weight", expected: "[out, in]", actual: shapeString(w.shape) })
  }
  const [outF, inF] = w.shape
  lastDim("linear", "x", x, inF)
  const rows = x.size / inF
  const y = t.output([...x.shape.slice(0, -1), outF], anyRequiresGrad(x, w))
  t.k.matmul(x.value, w.value, y.value, rows, outF, inF, false, true, false)
  t.record(() => {
    if (!y.hasGrad || y.grad === null) return
    const dy = y.grad
    if (x.requiresGrad) {
      const { buffer, accumulate } = t.gradTarget(x)
      t.k.matmul(dy, w.value, buffer, rows, inF, outF, false, false, accumulate)
    }
    if (w.requiresGrad) {
      const { buffer, accumulate } = t.gradTarget(w)
      t.k.matmul(dy, x.value, buffer, outF, inF, rows, true, false, accumulate)
    }
  })
  return y
}
