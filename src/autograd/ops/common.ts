import { type FloatArray, shapeString } from "../../tensor/tensor.ts"
import { ShapeError } from "../errors.ts"
import type { Tape } from "../tape.ts"
import type { Var } from "../var.ts"

/**
 * Delivers a gradient computed by a kernel that can only overwrite its output: straight into
 * `v`'s buffer when it holds nothing yet, else through scratch and an add.
 */
export const deliverGrad = (t: Tape, v: Var, write: (dst: FloatArray) => void): void => {
  const { buffer, accumulate } = t.gradTarget(v)
  if (!accumulate) {
    write(buffer)
    return
  }
  const tmp = t.scratch(v.size)
  write(tmp)
  t.k.addInPlace(buffer, tmp)
}

export const requireShape = (op: string, operand: string, v: Var, expected: ReadonlyArray<number>): void => {
  const s = v.shape
  if (s.length !== expected.length || s.some((d, i) => d !== expected[i])) {
    throw new ShapeError({ op, operand, expected: shapeString(expected), actual: shapeString(s) })
  }
}

/** The size of the last axis, checked against `expected` when given. */
export const lastDim = (op: string, operand: string, v: Var, expected?: number): number => {
  const d = v.shape.length === 0 ? 1 : v.shape[v.shape.length - 1]
  if (expected !== undefined && d !== expected) {
    throw new ShapeError({
      op,
      operand,
      expected: `last axis ${expected}`,
      actual: shapeString(v.shape)
    })
  }
  return d
}

export const requireSameShape = (op: string, a: Var, b: Var): void => requireShape(op, "b", b, a.shape)

export const anyRequiresGrad = (...vs: ReadonlyArray<Var>): boolean => vs.some((v) => v.requiresGrad)
