import type { FloatArray } from "../../tensor/tensor.ts"
import * as check from "../checks.ts"
import type { KernelsShape } from "../KernelsShape.ts"
import { fillRopeTables } from "../ropeTables.ts"

/** cos/sin of the rotation angles, laid out `[T][hd/2]` (see ropeTables.ts). */
export interface RopeTable {
  readonly cos: Float64Array
  readonly sin: Float64Array
}

/**
 * A RoPE table cache: a table is a pure function of (T, hd, θ), so it is computed on first use
 * and kept by the kernel instance that owns the cache.
 */
export const makeRopeTables = (): (T: number, hd: number, theta: number) => RopeTable => {
  const tables = new Map<string, RopeTable>()
  return (T, hd, theta) => {
    const key = `${T}:${hd}:${theta}`
    const cached = tables.get(key)
    if (cached !== undefined) return cached
    const table = { cos: new Float64Array(T * hd / 2), sin: new Float64Array(T * hd / 2) }
    fillRopeTables(table.cos, table.sin, T, hd, theta)
    tables.set(key, table)
    return table
  }
}

/**
 * Rotates each pair of each head of `rows` rows (position `row mod T`) by the table's angles, in
 * double, rounded once when stored; reads each pair before writing it, so out may alias x.
 */
export const ropeRows = (
  x: FloatArray,
  out: FloatArray,
  rows: number,
  T: number,
  H: number,
  hd: number,
  { cos, sin }: RopeTable,
  inverse: boolean
): void => {
  const width = H * hd
  const half = hd / 2
  const sign = inverse ? -1 : 1
  for (let row = 0; row < rows; row++) {
    const t = (row % T) * half
    const base = row * width
    for (let h = 0; h < H; h++) {
      const o = base + h * hd
      for (let i = 0; i < half; i++) {
        const c = cos[t + i]
        const s = sign * sin[t + i]
        const x0 = x[o + 2 * i]
        const x1 = x[o + 2 * i + 1]
        out[o + 2 * i] = x0 * c - x1 * s
        out[o + 2 * i + 1] = x0 * s + x1 * c
      }
    }
  }
}

/** The TypeScript RoPE kernel, with its own table cache: the reference for every precision. */
export const makeRope = (): KernelsShape["rope"] => {
  const ropeTable = makeRopeTables()
  return (x, out, rows, T, H, hd, theta, inverse) => {
    check.rope(x, out, rows, H, hd)
    ropeRows(x, out, rows, T, H, hd, ropeTable(T, hd, theta), inverse)
  }
}
