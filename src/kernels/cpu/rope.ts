import type { FloatArray } from "../../tensor/tensor.ts"
import { KernelArgumentError, requireLength } from "./errors.ts"

/**
 * cos/sin of `pos · θ^(-2i/hd)` for pos < T, i < hd/2, laid out `[T][hd/2]`. Computed once per
 * (T, hd, θ) and kept: the table is a pure function of those three numbers.
 */
interface RopeTable {
  readonly cos: Float64Array
  readonly sin: Float64Array
}

const tables = new Map<string, RopeTable>()

const ropeTable = (T: number, hd: number, theta: number): RopeTable => {
  const key = `${T}:${hd}:${theta}`
  const cached = tables.get(key)
  if (cached !== undefined) return cached
  const half = hd / 2
  const cos = new Float64Array(T * half)
  const sin = new Float64Array(T * half)
  for (let i = 0; i < half; i++) {
    const freq = Math.pow(theta, (-2 * i) / hd)
    for (let pos = 0; pos < T; pos++) {
      const angle = pos * freq
      cos[pos * half + i] = Math.cos(angle)
      sin[pos * half + i] = Math.sin(angle)
    }
  }
  const table = { cos, sin }
  tables.set(key, table)
  return table
}

export const rope = (
  x: FloatArray, out: FloatArray, rows: number, T: number, H: number, hd: number, theta: number, inverse: boolean
): void => {
  if (hd % 2 !== 0) throw new KernelArgumentError({ kernel: "rope", field: "hd", value: hd, expected: "an even number" })
  const width = H * hd
  requireLength("rope", "x", x.length, rows * width)
  requireLength("rope", "out", out.length, rows * width)
  const { cos, sin } = ropeTable(T, hd, theta)
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
