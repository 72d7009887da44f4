import { shapeString } from "../../tensor/tensor.ts"
import { ShapeError } from "../errors.ts"
import type { Tape } from "../tape.ts"
import type { Var } from "../var.ts"

/** Rows of `table [V, dim]` selected by `ids`: output `[ids.length, dim]`. */
export const embedding = (t: Tape, table: Var, ids: Int32Array): Var => {
  if (table.shape.length !== 2) {
    throw new ShapeError({ op: "embedding", operand: "table", expected: "[V, dim]", actual: shapeString(table.shape) })
  }
  const dim = table.shape[1]
  const y = t.output([ids.length, dim], table.requiresGrad)
  t.k.embedding(table.value, ids, y.value, dim)
  t.record(() => {
    if (!y.hasGrad || y.grad === null || !table.requiresGrad) return
    t.k.embeddingBackward(y.grad, ids, t.gradAccumulator(table), dim)
  })
  return y
}
