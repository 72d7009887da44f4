import { type FloatArray, shapeString } from "../../tensor/tensor.ts"
import { ShapeError } from "../errors.ts"
import type { Tape } from "../tape.ts"
import type { Var } from "../var.ts"
import { anyRequiresGrad, deliverGrad, requireShape } from "./common.ts"

/** Sizes of a `[B, T, H, hd]` attention operand (also accepted flattened as `[B·T, H·hd]`). */
export interface HeadLayout {
  readonly batch: number
  readonly seqLen: number
  readonly heads: number
  readonly headDim: number
}

const checkLayout = (op: string, operand: string, v: Var, l: HeadLayout): void => {
  if (v.size !== l.batch * l.seqLen * l.heads * l.headDim) {
    throw new ShapeError({
      op,
      operand,
      expected: shapeString([l.batch, l.seqLen, l.heads, l.headDim]),
      actual: shapeString(v.shape)
    })
  }
}

/** Rotary position embedding of every head; backward is the inverse rotation of dy. */
export const rope = (t: Tape, x: Var, l: HeadLayout, theta: number): Var => {
  checkLayout("rope", "x", x, l)
  const rows = l.batch * l.seqLen
  const y = t.output(x.shape, x.requiresGrad)
  t.k.rope(x.value, y.value, rows, l.seqLen, l.heads, l.headDim, theta, false)
  t.record(() => {
    if (!y.hasGrad || y.grad === null || !x.requiresGrad) return
    const dy = y.grad
    deliverGrad(t, x, (dst) => t.k.rope(dy, dst, rows, l.seqLen, l.heads, l.headDim, theta, true))
  })
  return y
}

/** Causal softmax attention per head, output in the layout of q. */
export const attention = (t: Tape, q: Var, k: Var, v: Var, l: HeadLayout): Var => {
  checkLayout("attention", "q", q, l)
  requireShape("attention", "k", k, q.shape)
  requireShape("attention", "v", v, q.shape)
  const { batch: B, seqLen: T, heads: H, headDim: hd } = l
  const y = t.output(q.shape, anyRequiresGrad(q, k, v))
  // What the backend keeps for the backward: the cpu backend's float32 path saves one
  // log-sum-exp per row ([B, H, T]) and recomputes the probabilities, others keep them.
  const saved = t.scratch(t.k.attentionSavedLength(q.value, B, T, H, hd))
  t.k.attention(q.value, k.value, v.value, saved, y.value, B, T, H, hd)
  t.record(() => {
    if (!y.hasGrad || y.grad === null) return
    const dy = y.grad
    // The kernel writes dq, dk and dv in one pass: give it each gradient buffer directly when
    // that buffer holds nothing yet, else scratch that is added afterwards.
    const targets = [q, k, v].map((x): { readonly dst: FloatArray; readonly addTo: FloatArray | null } => {
      if (!x.requiresGrad) return { dst: t.scratch(x.size), addTo: null }
      const { buffer, accumulate } = t.gradTarget(x)
      return accumulate ? { dst: t.scratch(x.size), addTo: buffer } : { dst: buffer, addTo: null }
    })
    t.k.attentionBackward(
      q.value,
      k.value,
      v.value,
      y.value,
      saved,
      dy,
      targets[0].dst,
      targets[1].dst,
      targets[2].dst,
      B,
      T,
      H,
      hd
    )
    for (const { dst, addTo } of targets) if (addTo !== null) t.k.addInPlace(addTo, dst)
  })
  return y
}
