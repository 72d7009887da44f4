/**
 * Packed operands for the dot products of headless GL kernels (matmul, attention): `rows` vectors
 * of `k` values gathered from a flat array into `rows · ⌈k/4⌉` texels of four consecutive values,
 * so a dot product fetches one texel per four multiply-adds instead of one value per operand per
 * multiply-add. Fetches are what a software rasteriser spends its time on; packing costs one fetch
 * per value, once.
 */
import type { Device, DeviceArray } from "./device.ts"
import { idiv, kernelSource } from "./source.ts"

/**
 * Where vector `row` starts and how its values are spaced: `row = o·IN + u` (IN = 1: o = row)
 * starts at `o·RO + u·RI`, and its value j lies `j·S` further on.
 */
export interface PackLayout {
  readonly IN: number
  readonly RO: number
  readonly RI: number
  readonly S: number
}

/** Vectors that are rows `R` apart, values `S` apart (a matrix's rows or columns). */
export const strided = (R: number, S: number): PackLayout => ({ IN: 1, RO: R, RI: 0, S })

export const packSource = kernelSource(
  ["x", "pad"],
  `
  const i = this.thread.x;
  const row = ${idiv("i", "this.constants.KQ")};
  const p = (i - row * this.constants.KQ) * 4;
  const o = ${idiv("row", "this.constants.IN")};
  const u = row - o * this.constants.IN;
  const base = o * this.constants.RO + u * this.constants.RI + p * this.constants.S;
  let v0 = pad;
  let v1 = pad;
  let v2 = pad;
  let v3 = pad;
  if (p < this.constants.K) { v0 = x[base]; }
  if (p + 1 < this.constants.K) { v1 = x[base + this.constants.S]; }
  if (p + 2 < this.constants.K) { v2 = x[base + 2 * this.constants.S]; }
  if (p + 3 < this.constants.K) { v3 = x[base + 3 * this.constants.S]; }
  return [v0, v1, v2, v3];`
)

/**
 * `rows` vectors of `k` values of `x`, laid out as `layout` says, as `rows · ⌈k/4⌉` texels; the
 * last texel of each is padded with `pad` (zero for dot products).
 */
export const pack = (
  dev: Device,
  x: DeviceArray,
  rows: number,
  k: number,
  layout: PackLayout,
  pad = 0
): DeviceArray => {
  const { IN, RO, RI, S } = layout
  return dev.run(
    `pack:${rows}x${k}:${IN}:${RO}:${RI}:${S}`,
    () => ({
      source: packSource,
      output: rows * Math.ceil(k / 4),
      constants: { K: k, KQ: Math.ceil(k / 4), IN, RO, RI, S },
      returnType: "Array(4)"
    }),
    x,
    pad
  )
}

/**
 * Kernel statements that set `total` to `Σ_q ⟨a4[aBase + q], b4[bBase + q]⟩` over `constants.KQ`
 * texels, chunked like `chunkedSum` (constants `KQ_CH`, `KQ_NC`; see `sumConstants`).
 */
export const packedDot = (a4: string, aBase: string, b4: string, bBase: string): string => `
  let total = 0;
  for (let qc = 0; qc < this.constants.KQ_NC; qc++) {
    let part = 0;
    for (let qt = 0; qt < this.constants.KQ_CH; qt++) {
      const q = qc * this.constants.KQ_CH + qt;
      if (q < this.constants.KQ) {
        const x = ${a4}[${aBase} + q];
        const y = ${b4}[${bBase} + q];
        part += x[0] * y[0] + x[1] * y[1] + x[2] * y[2] + x[3] * y[3];
      }
    }
    total += part;
  }`
