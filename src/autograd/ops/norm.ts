import type { Tape } from "../tape.ts"
import type { Var } from "../var.ts"
import { anyRequiresGrad, lastDim, requireShape } from "./common.ts"

/** RMSNorm over the last axis with weight `w [dim]`; the per-row 1/rms is kept for backward. */
export const rmsnorm = (t: Tape, x: Var, w: Var, eps: number): Var => {
  const dim = lastDim("rmsnorm", "x", x)
  requireShape("rmsnorm", "weight", w, [dim])
  const rows = x.size / dim
  const y = t.output(x.shape, anyRequiresGrad(x, w))
  const rstd = t.scratch(rows)
  t.k.rmsnorm(x.value, w.value, y.value, rstd, rows, dim, eps)
  t.record(() => {
    if (!y.hasGrad || y.grad === null) return
    // The kernel produces dx and dw together; whichever is not wanted goes to scratch.
    const dw = w.requiresGrad ? t.gradAccumulator(w) : t.scratch(dim)
    if (!w.requiresGrad) t.k.storage.fill(dw, 0)
    if (x.requiresGrad) {
      const { buffer, accumulate } = t.gradTarget(x)
      t.k.rmsnormBackward(x.value, w.value, rstd, y.grad, buffer, dw, rows, dim, accumulate)
    } else {
      t.k.rmsnormBackward(x.value, w.value, rstd, y.grad, t.scratch(x.size), dw, rows, dim, false)
    }
  })
  return y
}
