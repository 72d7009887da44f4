import type { FloatArray } from "../../tensor/tensor.ts"
import * as check from "../checks.ts"

export const embedding = (table: FloatArray, ids: Int32Array, out: FloatArray, dim: number): void => {
  check.embedding(table, ids, out, dim)
  for (let r = 0; r < ids.length; r++) {
    const src = ids[r] * dim
    const dst = r * dim
    for (let j = 0; j < dim; j++) out[dst + j] = table[src + j]
  }
}

/** Rows are added in order of r, so repeated ids sum in a fixed order (deterministic). */
export const embeddingBackward = (dOut: FloatArray, ids: Int32Array, dTable: FloatArray, dim: number): void => {
  check.embeddingBackward(dOut, ids, dTable, dim)
  for (let r = 0; r < ids.length; r++) {
    const dst = ids[r] * dim
    const src = r * dim
    for (let j = 0; j < dim; j++) dTable[dst + j] += dOut[src + j]
  }
}
