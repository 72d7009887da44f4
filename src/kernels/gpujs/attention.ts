/**
 * Causal scaled-dot-product attention and its backward, every stage chained on the device.
 *
 * Layouts: q, k, v, out `[B, T, H, hd]`; scores and probs `[B, H, T, T]`. With `s = 1/√hd`:
 * forward `S = s·q·kᵀ` (j ≤ i), `P = softmax(S)` per row, `out = P·v`;
 * backward `dv = Pᵀ·dOut`, `dP = dOut·vᵀ`, `dS = P ⊙ (dP − rowsum(P ⊙ dP))·s`,
 * `dq = dS·k`, `dk = dSᵀ·q`.
 */
import type { Device, DeviceArray } from "./device.ts"
import { pack, packedDot, strided } from "./pack.ts"
import type { GpujsStorage } from "./residency.ts"
import { chunkedSum, idiv, kernelSource, sumConstants, unflatten } from "./source.ts"

/** Decomposes the thread index of a `[B, H, T, T]` output into b, h, i (query) and j (key). */
const scoreIndex = `
  const idx = this.thread.x;${unflatten("idx", "b", [["h", "H"], ["i", "T"], ["j", "T"]])}`

/** Decomposes the thread index of a `[B, T, H, hd]` output into b, t (position), h and d. */
const headIndex = `
  const idx = this.thread.x;${unflatten("idx", "b", [["t", "T"], ["h", "H"], ["d", "HD"]])}`

/** Row `row` of a `[B·H·T, T]` score matrix: its query position i. */
const rowIndex = `
  const row = this.thread.x;
  const i = row - ${idiv("row", "this.constants.T")} * this.constants.T;
  const base = row * this.constants.T;`

/** Offset of `[b, pos, h, 0]` in a `[B, T, H, hd]` tensor. */
const headOffset = (pos: string) => `((b * this.constants.T + ${pos}) * this.constants.H + h) * this.constants.HD`

export const scoresSource = kernelSource(
  ["q", "k", "scale"],
  `${scoreIndex}
  if (j > i) {
    return 0;
  }
  const qBase = ${headOffset("i")};
  const kBase = ${headOffset("j")};
  ${chunkedSum({ result: "s", index: "d", bound: "HD", term: "q[qBase + d] * k[kBase + d]" })}
  return s * scale;`
)

export const causalRowMaxSource = kernelSource(
  ["scores"],
  `${rowIndex}
  let m = scores[base];
  for (let j = 1; j < this.constants.T; j++) {
    if (j <= i) {
      m = Math.max(m, scores[base + j]);
    }
  }
  return m;`
)

export const causalRowSumExpSource = kernelSource(
  ["scores", "rowMax"],
  `${rowIndex}
  const m = rowMax[row];
  ${chunkedSum({ result: "s", index: "j", bound: "T", guard: "j <= i", term: "Math.exp(scores[base + j] - m)" })}
  return s;`
)

export const causalProbsSource = kernelSource(
  ["scores", "rowMax", "rowSum"],
  `
  const idx = this.thread.x;
  const row = ${idiv("idx", "this.constants.T")};
  const j = idx - row * this.constants.T;
  const i = row - ${idiv("row", "this.constants.T")} * this.constants.T;
  if (j > i) {
    return 0;
  }
  return Math.exp(scores[idx] - rowMax[row]) / rowSum[row];`
)

/** `out[b,t,h,d] = Σ_{j≤t} P[b,h,t,j]·v[b,j,h,d]`. */
export const probsTimesVSource = kernelSource(
  ["probs", "v"],
  `${headIndex}
  const pBase = ((b * this.constants.H + h) * this.constants.T + t) * this.constants.T;
  ${
    chunkedSum({
      result: "s",
      index: "j",
      bound: "T",
      guard: "j <= t",
      term: `probs[pBase + j] * v[${headOffset("j")} + d]`
    })
  }
  return s;`
)

/** `dv[b,t,h,d] = Σ_{i≥t} P[b,h,i,t]·dOut[b,i,h,d]` (also dk from dS and q). */
export const transposedProbsTimesSource = kernelSource(
  ["probs", "x"],
  `${headIndex}
  const pBase = (b * this.constants.H + h) * this.constants.T * this.constants.T + t;
  ${
    chunkedSum({
      result: "s",
      index: "i",
      bound: "T",
      guard: "i >= t",
      term: `probs[pBase + i * this.constants.T] * x[${headOffset("i")} + d]`
    })
  }
  return s;`
)

/** `dP[b,h,i,j] = Σ_d dOut[b,i,h,d]·v[b,j,h,d]` for j ≤ i. */
export const dProbsSource = kernelSource(
  ["dOut", "v"],
  `${scoreIndex}
  if (j > i) {
    return 0;
  }
  const oBase = ${headOffset("i")};
  const vBase = ${headOffset("j")};
  ${chunkedSum({ result: "s", index: "d", bound: "HD", term: "dOut[oBase + d] * v[vBase + d]" })}
  return s;`
)

export const rowDotSource = kernelSource(
  ["probs", "dProbs"],
  `${rowIndex}
  ${chunkedSum({ result: "s", index: "j", bound: "T", guard: "j <= i", term: "probs[base + j] * dProbs[base + j]" })}
  return s;`
)

export const dScoresSource = kernelSource(
  ["probs", "dProbs", "rowDot", "scale"],
  `
  const idx = this.thread.x;
  const row = ${idiv("idx", "this.constants.T")};
  return probs[idx] * (dProbs[idx] - rowDot[row]) * scale;`
)

/**
 * Packed forms (headless GL; see pack.ts). Every dot product of attention is over a head's d (q·k,
 * dOut·v) or over positions (P·v and its relatives). Probabilities and their gradient are exactly
 * zero above the diagonal, so the sums over positions need no causal guard.
 */

/** `S[b,h,i,j] = j > i ? 0 : scale·⟨x[b,i,h,:], y[b,j,h,:]⟩` from x, y packed along d. */
export const packedScoresSource = kernelSource(
  ["x4", "y4", "scale"],
  `${scoreIndex}
  if (j > i) {
    return 0;
  }
  ${
    packedDot(
      "x4",
      "((b * this.constants.T + i) * this.constants.H + h) * this.constants.KQ",
      "y4",
      "((b * this.constants.T + j) * this.constants.H + h) * this.constants.KQ"
    )
  }
  return total * scale;`
)

/** `out[b,t,h,d] = ⟨l[b,h,t,:], x[b,:,h,d]⟩` from l (rows of P or Pᵀ) and x packed along positions. */
export const packedHeadSource = kernelSource(
  ["l4", "x4"],
  `${headIndex}
  ${
    packedDot(
      "l4",
      "((b * this.constants.H + h) * this.constants.T + t) * this.constants.KQ",
      "x4",
      "((b * this.constants.H + h) * this.constants.HD + d) * this.constants.KQ"
    )
  }
  return total;`
)

/** A `[B, T, H, hd]` tensor's head vectors along d: rows (b, t, h). */
const alongD = (dev: Device, x: DeviceArray, { B, T, H, hd }: Dims) => pack(dev, x, B * T * H, hd, strided(hd, 1))

/** A `[B, T, H, hd]` tensor along positions: rows (b, h, d), values x[b, j, h, d] for j < T. */
const alongPositions = (dev: Device, x: DeviceArray, { B, T, H, hd }: Dims) =>
  pack(dev, x, B * H * hd, T, { IN: H * hd, RO: T * H * hd, RI: 1, S: H * hd })

/** `[B, H, T, T]` rows (b, h, i) along j, or (transposed) columns (b, h, j) along i. */
const probRows = (dev: Device, p: DeviceArray, { B, T, H }: Dims, transposed: boolean) =>
  pack(dev, p, B * H * T, T, transposed ? { IN: T, RO: T * T, RI: 1, S: T } : strided(T, 1))

const packedScores = (dev: Device, name: string, x4: DeviceArray, y4: DeviceArray, dims: Dims, scale: number) => {
  const { B, T, H, hd } = dims
  return dev.run(
    `${name}:${dimsKey(dims)}`,
    () => ({
      source: packedScoresSource,
      output: B * H * T * T,
      constants: { T, H, ...sumConstants("KQ", Math.ceil(hd / 4)) }
    }),
    x4,
    y4,
    scale
  )
}

const packedHead = (dev: Device, name: string, l4: DeviceArray, x4: DeviceArray, dims: Dims) => {
  const { B, T, H, hd } = dims
  return dev.run(
    `${name}:${dimsKey(dims)}`,
    () => ({
      source: packedHeadSource,
      output: B * T * H * hd,
      constants: { T, H, HD: hd, ...sumConstants("KQ", Math.ceil(T / 4)) }
    }),
    l4,
    x4
  )
}

interface Dims {
  readonly B: number
  readonly T: number
  readonly H: number
  readonly hd: number
}

const dimsKey = ({ B, T, H, hd }: Dims) => `${B}x${T}x${H}x${hd}`

/** Runs the forward pass on device arrays; returns probs `[B,H,T,T]` and out `[B,T,H,hd]`. */
export const attentionOnDevice = (
  dev: Device,
  q: DeviceArray,
  k: DeviceArray,
  v: DeviceArray,
  dims: Dims
): { readonly probs: DeviceArray; readonly out: DeviceArray } => {
  const { B, T, H, hd } = dims
  const key = dimsKey(dims)
  const rows = B * H * T
  const scores = dev.resident
    ? packedScores(dev, "attention.scores.packed", alongD(dev, q, dims), alongD(dev, k, dims), dims, 1 / Math.sqrt(hd))
    : dev.run(
      `attention.scores:${key}`,
      () => ({
        source: scoresSource,
        output: rows * T,
        constants: { T, H, ...sumConstants("HD", hd) }
      }),
      q,
      k,
      1 / Math.sqrt(hd)
    )
  const max = dev.run(`attention.rowMax:${key}`, () => ({
    source: causalRowMaxSource,
    output: rows,
    constants: { T }
  }), scores)
  const sum = dev.run(
    `attention.rowSum:${key}`,
    () => ({
      source: causalRowSumExpSource,
      output: rows,
      constants: sumConstants("T", T)
    }),
    scores,
    max
  )
  const probs = dev.run(
    `attention.probs:${key}`,
    () => ({
      source: causalProbsSource,
      output: rows * T,
      constants: { T }
    }),
    scores,
    max,
    sum
  )
  const out = dev.resident
    ? packedHead(dev, "attention.out.packed", probRows(dev, probs, dims, false), alongPositions(dev, v, dims), dims)
    : dev.run(
      `attention.out:${key}`,
      () => ({
        source: probsTimesVSource,
        output: B * T * H * hd,
        constants: { H, HD: hd, ...sumConstants("T", T) }
      }),
      probs,
      v
    )
  return { probs, out }
}

export const attention = (dev: Device, store: GpujsStorage) =>
(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  probs: Float32Array,
  out: Float32Array,
  B: number,
  T: number,
  H: number,
  hd: number
): void => {
  const n = B * T * H * hd
  dev.begin()
  const uq = store.input(q, n)
  const uk = store.input(k, n)
  const uv = store.input(v, n)
  dev.lap("upload")
  const r = attentionOnDevice(dev, uq, uk, uv, { B, T, H, hd })
  dev.lap("compute")
  store.output(probs, r.probs, B * H * T * T)
  store.output(out, r.out, n)
  dev.lap("readback")
  dev.end()
}

export const attentionBackward = (dev: Device, store: GpujsStorage) =>
(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  probs: Float32Array,
  dOut: Float32Array,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  B: number,
  T: number,
  H: number,
  hd: number
): void => {
  const n = B * T * H * hd
  const np = B * H * T * T
  const key = dimsKey({ B, T, H, hd })
  const headConstants = { H, HD: hd, ...sumConstants("T", T) }
  dev.begin()
  const uq = store.input(q, n)
  const uk = store.input(k, n)
  const uv = store.input(v, n)
  const up = store.input(probs, np)
  const udo = store.input(dOut, n)
  dev.lap("upload")
  const dims = { B, T, H, hd }
  const packed = dev.resident
  const gv = packed
    ? packedHead(
      dev,
      "attentionBackward.dv.packed",
      probRows(dev, up, dims, true),
      alongPositions(dev, udo, dims),
      dims
    )
    : dev.run(
      `attentionBackward.dv:${key}`,
      () => ({
        source: transposedProbsTimesSource,
        output: n,
        constants: headConstants
      }),
      up,
      udo
    )
  const dP = packed
    ? packedScores(dev, "attentionBackward.dProbs.packed", alongD(dev, udo, dims), alongD(dev, uv, dims), dims, 1)
    : dev.run(
      `attentionBackward.dProbs:${key}`,
      () => ({
        source: dProbsSource,
        output: np,
        constants: { T, H, ...sumConstants("HD", hd) }
      }),
      udo,
      uv
    )
  const dot = dev.run(
    `attentionBackward.rowDot:${key}`,
    () => ({
      source: rowDotSource,
      output: B * H * T,
      constants: sumConstants("T", T)
    }),
    up,
    dP
  )
  const dS = dev.run(
    `attentionBackward.dScores:${key}`,
    () => ({
      source: dScoresSource,
      output: np,
      constants: { T }
    }),
    up,
    dP,
    dot,
    1 / Math.sqrt(hd)
  )
  const gq = packed
    ? packedHead(
      dev,
      "attentionBackward.dq.packed",
      probRows(dev, dS, dims, false),
      alongPositions(dev, uk, dims),
      dims
    )
    : dev.run(
      `attentionBackward.dq:${key}`,
      () => ({
        source: probsTimesVSource,
        output: n,
        constants: headConstants
      }),
      dS,
      uk
    )
  const gk = packed
    ? packedHead(dev, "attentionBackward.dk.packed", probRows(dev, dS, dims, true), alongPositions(dev, uq, dims), dims)
    : dev.run(
      `attentionBackward.dk:${key}`,
      () => ({
        source: transposedProbsTimesSource,
        output: n,
        constants: headConstants
      }),
      dS,
      uq
    )
  dev.lap("compute")
  store.output(dq, gq, n)
  store.output(dk, gk, n)
  store.output(dv, gv, n)
  dev.lap("readback")
  dev.end()
}
