import type { Tape } from "../tape.ts"
import type { Var } from "../var.ts"
import { anyRequiresGrad, requireSameShape } from "./common.ts"

/** `a + b` (same shapes); both inputs receive dy. */
export const add = (t: Tape, a: Var, b: Var): Var => {
  requireSameShape("add", a, b)
  const y = t.output(a.shape, anyRequiresGrad(a, b))
  t.k.add(a.value, b.value, y.value)
  t.record(() => {
    if (!y.hasGrad || y.grad === null) return
    const dy = y.grad
    for (const v of [a, b]) {
      if (!v.requiresGrad) continue
      const { buffer, accumulate } = t.gradTarget(v)
      if (accumulate) t.k.addInPlace(buffer, dy)
      else t.k.scale(dy, 1, buffer)
    }
  })
  return y
}

/** `a ⊙ b` (same shapes); `da = dy ⊙ b`, `db = dy ⊙ a`. */
export const mul = (t: Tape, a: Var, b: Var): Var => {
  requireSameShape("mul", a, b)
  const y = t.output(a.shape, anyRequiresGrad(a, b))
  t.k.mul(a.value, b.value, y.value)
  t.record(() => {
    if (!y.hasGrad || y.grad === null) return
    const dy = y.grad
    for (const [v, other] of [[a, b], [b, a]] as const) {
      if (!v.requiresGrad) continue
      const { buffer, accumulate } = t.gradTarget(v)
      if (accumulate) {
        const tmp = t.scratch(v.size)
        t.k.mul(dy, other.value, tmp)
        t.k.addInPlace(buffer, tmp)
      } else {
        t.k.mul(dy, other.value, buffer)
      }
    }
  })
  return y
}

/** `x·σ(x)`. */
export const silu = (t: Tape, x: Var): Var => {
  const y = t.output(x.shape, x.requiresGrad)
  t.k.silu(x.value, y.value)
  t.record(() => {
    if (!y.hasGrad || y.grad === null || !x.requiresGrad) return
    const { buffer, accumulate } = t.gradTarget(x)
    t.k.siluBackward(x.value, y.grad, buffer, accumulate)
  })
  return y
}
