import type { FloatArray } from "../../tensor/tensor.ts"
import * as check from "../checks.ts"

/** RMSNorm over rows: `out = x·r ⊙ w` with `r = 1/√(mean(x²) + eps)`; row sums in float64. */
export const rmsnorm = (
  x: FloatArray,
  w: FloatArray,
  out: FloatArray,
  rstd: FloatArray,
  rows: number,
  dim: number,
  eps: number
): void => {
  check.rmsnorm(x, w, out, rstd, rows, dim)
  for (let row = 0, o = 0; row < rows; row++, o += dim) {
    let ss = 0
    for (let j = 0; j < dim; j++) ss += x[o + j] * x[o + j]
    const r = 1 / Math.sqrt(ss / dim + eps)
    rstd[row] = r
    for (let j = 0; j < dim; j++) out[o + j] = x[o + j] * r * w[j]
  }
}

/**
 * With `g = w ⊙ dy`: `dx = r·g − x·r³·(g·x)/dim` and `dw += Σ_rows dy ⊙ x·r`.
 * `rstd` is read back exactly as the forward stored it, so both passes agree on r.
 */
export const rmsnormBackward = (
  x: FloatArray,
  w: FloatArray,
  rstd: FloatArray,
  dy: FloatArray,
  dx: FloatArray,
  dw: FloatArray,
  rows: number,
  dim: number,
  accumulate: boolean
): void => {
  check.rmsnormBackward(x, w, rstd, dy, dx, dw, rows, dim)
  for (let row = 0, o = 0; row < rows; row++, o += dim) {
    const r = rstd[row]
    let dot = 0
    for (let j = 0; j < dim; j++) dot += w[j] * dy[o + j] * x[o + j]
    const c = (r * r * r * dot) / dim
    for (let j = 0; j < dim; j++) {
      const xj = x[o + j]
      const dyj = dy[o + j]
      const g = r * w[j] * dyj - c * xj
      dx[o + j] = accumulate ? dx[o + j] + g : g
      dw[j] += dyj * xj * r
    }
  }
}
