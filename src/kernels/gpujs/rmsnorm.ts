/**
 * RMSNorm and its backward on the device.
 *
 * Forward: `rstd[r] = 1/√(mean(x²) + eps)`, `out = x·rstd ⊙ w`.
 * Backward, with `g = w ⊙ dy`: `dx = rstd·(g − x·rstd²·⟨g, x⟩/dim)`,
 * `dw[c] += Σ_r dy[r,c]·x[r,c]·rstd[r]` (a column sum, chunked over rows).
 */
import type { Device } from "./device.ts"
import type { GpujsStorage } from "./residency.ts"
import { chunkedSum, idiv, kernelSource, sumConstants } from "./source.ts"

export const rstdSource = kernelSource(
  ["x", "eps"],
  `
  const base = this.thread.x * this.constants.DIM;
  ${chunkedSum({ result: "ss", index: "c", bound: "DIM", term: "x[base + c] * x[base + c]" })}
  return 1 / Math.sqrt(ss / this.constants.DIM + eps);`
)

export const normSource = kernelSource(
  ["x", "w", "rstd"],
  `
  const i = this.thread.x;
  const r = ${idiv("i", "this.constants.DIM")};
  const c = i - r * this.constants.DIM;
  return x[i] * rstd[r] * w[c];`
)

export const rowDotSource = kernelSource(
  ["x", "w", "dy"],
  `
  const base = this.thread.x * this.constants.DIM;
  ${chunkedSum({ result: "d", index: "c", bound: "DIM", term: "w[c] * dy[base + c] * x[base + c]" })}
  return d;`
)

const dxBody = (accumulate: boolean) => `
  const i = this.thread.x;
  const r = ${idiv("i", "this.constants.DIM")};
  const c = i - r * this.constants.DIM;
  const s = rstd[r];
  const g = w[c] * dy[i] - x[i] * s * s * rowDot[r] / this.constants.DIM;
  return ${accumulate ? "dxIn[i] + " : ""}s * g;`

export const dxSource = (accumulate: boolean): string =>
  kernelSource(
    accumulate ? ["x", "w", "rstd", "dy", "rowDot", "dxIn"] : ["x", "w", "rstd", "dy", "rowDot"],
    dxBody(accumulate)
  )

export const dwSource = kernelSource(
  ["x", "rstd", "dy", "dwIn"],
  `
  const c = this.thread.x;
  ${
    chunkedSum({
      result: "s",
      index: "r",
      bound: "ROWS",
      term: "dy[r * this.constants.DIM + c] * x[r * this.constants.DIM + c] * rstd[r]"
    })
  }
  return dwIn[c] + s;`
)

export const rmsnorm = (dev: Device, store: GpujsStorage) =>
(
  x: Float32Array,
  w: Float32Array,
  out: Float32Array,
  rstd: Float32Array,
  rows: number,
  dim: number,
  eps: number
): void => {
  const n = rows * dim
  const shape = `${rows}x${dim}`
  dev.begin()
  const ux = store.input(x, n)
  const uw = store.input(w, dim)
  dev.lap("upload")
  const s = dev.run(
    `rmsnorm.rstd:${shape}`,
    () => ({
      source: rstdSource,
      output: rows,
      constants: sumConstants("DIM", dim)
    }),
    ux,
    eps
  )
  const y = dev.run(
    `rmsnorm.out:${shape}`,
    () => ({
      source: normSource,
      output: n,
      constants: { DIM: dim }
    }),
    ux,
    uw,
    s
  )
  dev.lap("compute")
  store.output(out, y, n)
  store.output(rstd, s, rows)
  dev.lap("readback")
  dev.end()
}

export const rmsnormBackward = (dev: Device, store: GpujsStorage) =>
(
  x: Float32Array,
  w: Float32Array,
  rstd: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  dw: Float32Array,
  rows: number,
  dim: number,
  accumulate: boolean
): void => {
  const n = rows * dim
  const shape = `${rows}x${dim}`
  dev.begin()
  const ux = store.input(x, n)
  const uw = store.input(w, dim)
  const us = store.input(rstd, rows)
  const udy = store.input(dy, n)
  const udw = store.input(dw, dim)
  const udx = accumulate ? store.input(dx, n) : undefined
  dev.lap("upload")
  const dot = dev.run(
    `rmsnormBackward.rowDot:${shape}`,
    () => ({
      source: rowDotSource,
      output: rows,
      constants: sumConstants("DIM", dim)
    }),
    ux,
    uw,
    udy
  )
  const dxKey = `rmsnormBackward.dx${accumulate ? "+" : ""}:${shape}`
  const dxSpec = () => ({ source: dxSource(accumulate), output: n, constants: { DIM: dim } })
  const gx = udx === undefined
    ? dev.run(dxKey, dxSpec, ux, uw, us, udy, dot)
    : dev.run(dxKey, dxSpec, ux, uw, us, udy, dot, udx)
  const gw = dev.run(
    `rmsnormBackward.dw:${shape}`,
    () => ({
      source: dwSource,
      output: dim,
      constants: { DIM: dim, ...sumConstants("ROWS", rows) }
    }),
    ux,
    us,
    udy,
    udw
  )
  dev.lap("compute")
  store.output(dx, gx, n)
  store.output(dw, gw, dim)
  dev.lap("readback")
  dev.end()
}
