import { causalSoftmax } from "./causalSoftmax.ts"
import type { WasmMatmul } from "./wasm/matmulWasm.ts"
import { type WasmVector, wasmVectorFits } from "./wasm/vectorWasm.ts"

/*
 * Float32 causal attention on the WebAssembly SIMD matmul. The wasm kernel takes dense operands,
 * so each head's q/k/v (T×hd rows at stride H·hd inside [B, T, H, hd]) is first gathered into a
 * contiguous scratch matrix and results are scattered back: O(T·hd) copies per head against
 * O(T²·hd) arithmetic. The products are dense T×T ones (the wasm kernel has no triangular mode);
 * above the diagonal the probabilities and dS are exactly zero, so the extra terms add zeros and
 * the SIMD speed more than pays for the doubled work at these sizes. The causal softmax and its
 * backward run on the vector module over all heads at once (one call each, T a multiple of 4),
 * else row by row in TypeScript.
 */

/** Per-instance scratch, grown on demand: three head matrices, two results and every head's dS. */
interface Scratch {
  qh: Float32Array
  kh: Float32Array
  vh: Float32Array
  r1: Float32Array
  r2: Float32Array
  /** dP then dS of every head, [B, H, T, T]. */
  dsAll: Float32Array
}

const makeScratch = (): Scratch => ({
  qh: new Float32Array(0),
  kh: new Float32Array(0),
  vh: new Float32Array(0),
  r1: new Float32Array(0),
  r2: new Float32Array(0),
  dsAll: new Float32Array(0)
})

const ensure = (s: Scratch, T: number, hd: number): void => {
  if (s.qh.length < T * hd) {
    s.qh = new Float32Array(T * hd)
    s.kh = new Float32Array(T * hd)
    s.vh = new Float32Array(T * hd)
    s.r1 = new Float32Array(T * hd)
    s.r2 = new Float32Array(T * hd)
  }
}

// Plain loops rather than subarray + set: rows are short (hd floats) and a view per row costs
// more than the copy.

/** Copies the T rows of hd floats at `src[head + t·stride]` into `dst[t·hd]`. */
const gather = (src: Float32Array, head: number, stride: number, dst: Float32Array, T: number, hd: number): void => {
  for (let t = 0, i = 0; t < T; t++) {
    for (let j = 0, o = head + t * stride; j < hd; j++) dst[i++] = src[o + j]
  }
}

/** The inverse of gather: `dst[head + t·stride …] = src[t·hd …]`. */
const scatter = (src: Float32Array, dst: Float32Array, head: number, stride: number, T: number, hd: number): void => {
  for (let t = 0, i = 0; t < T; t++) {
    for (let j = 0, o = head + t * stride; j < hd; j++) dst[o + j] = src[i++]
  }
}

/** The backward of causalSoftmax over `rows` rows of T, in place on ds (which holds dP on entry). */
const causalSoftmaxBackward = (probs: Float32Array, ds: Float32Array, rows: number, T: number, scale: number): void => {
  for (let r = 0; r < rows; r++) {
    const i = r % T
    const o = r * T
    let rowDot = 0
    for (let j = 0; j <= i; j++) rowDot += probs[o + j] * ds[o + j]
    for (let j = 0; j <= i; j++) ds[o + j] = probs[o + j] * (ds[o + j] - rowDot) * scale
    // dS must be exactly zero above the diagonal: the dense products read all of it.
    for (let j = i + 1; j < T; j++) ds[o + j] = 0
  }
}

export type AttentionF32 = (
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  probs: Float32Array,
  out: Float32Array,
  B: number,
  T: number,
  H: number,
  hd: number
) => void

export type AttentionBackwardF32 = (
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
) => void

/** Whether the vector module takes the softmax of B·H·T rows of T scores. */
const vectorSoftmax = (rows: number, T: number): boolean => T % 4 === 0 && wasmVectorFits(rows * T, rows * T)

/** Float32 attention forward through `wasm`; arguments already checked by the caller. */
export const makeAttentionF32 = (wasm: WasmMatmul, vector: WasmVector): AttentionF32 => {
  const s = makeScratch()
  return (q, k, v, probs, out, B, T, H, hd) => {
    ensure(s, T, hd)
    const stride = H * hd
    const scale = 1 / Math.sqrt(hd)
    const rows = B * H * T
    const onVector = vectorSoftmax(rows, T)
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const head = b * T * stride + h * hd
        const pOff = (b * H + h) * T * T
        gather(q, head, stride, s.qh, T, hd)
        gather(k, head, stride, s.kh, T, hd)
        wasm(s.qh, s.kh, probs.subarray(pOff, pOff + T * T), T, T, hd, false, true, false)
        if (!onVector) causalSoftmax(probs, pOff, T, scale)
      }
    }
    if (onVector) vector.causalSoftmax(probs, rows, T, scale)
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const head = b * T * stride + h * hd
        const pOff = (b * H + h) * T * T
        gather(v, head, stride, s.vh, T, hd)
        wasm(probs.subarray(pOff, pOff + T * T), s.vh, s.r1, T, hd, T, false, false, false)
        scatter(s.r1, out, head, stride, T, hd)
      }
    }
  }
}

/**
 * Float32 attention backward through `wasm`: `dv = Pᵀ·dOut`, `dP = dOut·vᵀ`,
 * `dS = P ⊙ (dP − rowsum(P ⊙ dP))/√hd`, `dq = dS·k`, `dk = dSᵀ·q`. Overwrites dq, dk, dv.
 */
export const makeAttentionBackwardF32 = (wasm: WasmMatmul, vector: WasmVector): AttentionBackwardF32 => {
  const s = makeScratch()
  return (q, k, v, probs, dOut, dq, dk, dv, B, T, H, hd) => {
    ensure(s, T, hd)
    const stride = H * hd
    const scale = 1 / Math.sqrt(hd)
    const rows = B * H * T
    if (s.dsAll.length < rows * T) s.dsAll = new Float32Array(rows * T)
    const ds = s.dsAll
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const head = b * T * stride + h * hd
        const pOff = (b * H + h) * T * T
        gather(dOut, head, stride, s.qh, T, hd)
        gather(v, head, stride, s.vh, T, hd)
        wasm(probs.subarray(pOff, pOff + T * T), s.qh, s.r1, T, hd, T, true, false, false)
        scatter(s.r1, dv, head, stride, T, hd)
        wasm(s.qh, s.vh, ds.subarray(pOff, pOff + T * T), T, T, hd, false, true, false)
      }
    }
    if (vectorSoftmax(rows, T)) vector.causalSoftmaxBackward(probs, ds, rows, T, scale)
    else causalSoftmaxBackward(probs, ds, rows, T, scale)
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const head = b * T * stride + h * hd
        const pOff = (b * H + h) * T * T
        const dsHead = ds.subarray(pOff, pOff + T * T)
        gather(k, head, stride, s.kh, T, hd)
        gather(q, head, stride, s.qh, T, hd)
        wasm(dsHead, s.kh, s.r1, T, hd, T, false, false, false)
        scatter(s.r1, dq, head, stride, T, hd)
        wasm(dsHead, s.qh, s.r2, T, hd, T, true, false, false)
        scatter(s.r2, dk, head, stride, T, hd)
      }
    }
  }
}
