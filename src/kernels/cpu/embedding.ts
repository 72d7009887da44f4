import type { FloatArray } from "../../tensor/tensor.ts"
import { KernelArgumentError, requireLength } from "./errors.ts"

const checkIds = (kernel: string, ids: Int32Array, tableRows: number): void => {
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r]
    if (!(id >= 0 && id < tableRows)) {
      throw new KernelArgumentError({ kernel, field: `ids[${r}]`, value: id, expected: `in [0, ${tableRows})` })
    }
  }
}

export const embedding = (table: FloatArray, ids: Int32Array, out: FloatArray, dim: number): void => {
  requireLength("embedding", "out", out.length, ids.length * dim)
  checkIds("embedding", ids, Math.floor(table.length / dim))
  for (let r = 0; r < ids.length; r++) {
    const src = ids[r] * dim
    const dst = r * dim
    for (let j = 0; j < dim; j++) out[dst + j] = table[src + j]
  }
}

/** Rows are added in order of r, so repeated ids sum in a fixed order (deterministic). */
export const embeddingBackward = (dOut: FloatArray, ids: Int32Array, dTable: FloatArray, dim: number): void => {
  requireLength("embeddingBackward", "dOut", dOut.length, ids.length * dim)
  checkIds("embeddingBackward", ids, Math.floor(dTable.length / dim))
  for (let r = 0; r < ids.length; r++) {
    const dst = ids[r] * dim
    const src = r * dim
    for (let j = 0; j < dim; j++) dTable[dst + j] += dOut[src + j]
  }
}
