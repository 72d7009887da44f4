import type { FloatArray } from "../../tensor/tensor.ts"
import * as check from "../checks.ts"
import type { KernelsShape } from "../KernelsShape.ts"
import { causalSoftmax } from "./causalSoftmax.ts"
import { makeFlashAttention } from "./flashAttention.ts"
import type { Gemm } from "./gemm.ts"
import { flashAttentionFits, type WasmVector } from "./wasm/vectorWasm.ts"

/*
 * The cpu backend's causal attention. Float32 runs the fused O(T)-memory kernel
 * (flashAttention.ts): it saves the per-row log-sum-exp [B, H, T] and the backward recomputes
 * the probabilities from it. Anything else (the float64 of gradient checks) runs the reference
 * below, which stores the probabilities [B, H, T, T] — the definition the fused kernel is
 * tested against.
 *
 * The reference: q, k, v, out are [B, T, H, hd]: head h of batch b is a T×hd matrix starting at
 * (b·T·H + h)·hd with row stride H·hd, so every product below runs through the strided gemm
 * without gathering heads. probs is [B, H, T, T], one contiguous T×T matrix per head.
 * Causality is used twice: score tiles wholly above the diagonal are never computed, and
 * products with a triangular factor only sum over its non-zero range (about half the work).
 */

/** Calls `f(head, probsOffset)` for every batch and head, in order: where its q/k/v rows and its T×T probabilities start. */
const forEachHead = (
  B: number,
  T: number,
  H: number,
  hd: number,
  f: (head: number, probsOffset: number) => void
): void => {
  const stride = H * hd
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) f(b * T * stride + h * hd, (b * H + h) * T * T)
  }
}

/** The reference attention: the probabilities `[B, H, T, T]` are stored and read back. */
export interface ReferenceAttention {
  forward(
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    probs: FloatArray,
    out: FloatArray,
    B: number,
    T: number,
    H: number,
    hd: number
  ): void
  backward(
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    probs: FloatArray,
    dOut: FloatArray,
    dq: FloatArray,
    dk: FloatArray,
    dv: FloatArray,
    B: number,
    T: number,
    H: number,
    hd: number
  ): void
}

/** The reference attention through `gemm` (which holds the packing scratch), with its own dS buffer. */
export const makeReferenceAttention = (gemm: Gemm): ReferenceAttention => ({
  forward: (q, k, v, probs, out, B, T, H, hd) => attentionGemm(gemm, q, k, v, probs, out, B, T, H, hd),
  backward: makeAttentionBackwardGemm(gemm)
})

const isF32 = (x: FloatArray): x is Float32Array => x instanceof Float32Array

/** The attention calls of the cpu backend: fused for float32, the reference for anything else. */
export const makeAttention = (
  gemm: Gemm,
  wasm: WasmVector
): Pick<KernelsShape, "attentionSavedLength" | "attention" | "attentionBackward"> => {
  const reference = makeReferenceAttention(gemm)
  const flash = makeFlashAttention()
  const savedLength = (q: FloatArray, B: number, T: number, H: number): number =>
    q instanceof Float32Array ? B * H * T : B * H * T * T
  return {
    attentionSavedLength: (q, B, T, H) => savedLength(q, B, T, H),
    attention: (q, k, v, saved, out, B, T, H, hd) => {
      check.attention(q, k, v, saved, savedLength(q, B, T, H), out, B, T, H, hd)
      if (isF32(q) && isF32(k) && isF32(v) && isF32(saved) && isF32(out) && flashAttentionFits(B, T, H, hd)) {
        wasm.flashForward(q, k, v, saved, out, B, T, H, hd)
      } else if (isF32(q)) flash.forward(q, k, v, saved, out, B, T, H, hd)
      else reference.forward(q, k, v, saved, out, B, T, H, hd)
    },
    attentionBackward: (q, k, v, out, saved, dOut, dq, dk, dv, B, T, H, hd) => {
      check.attentionBackward(q, k, v, out, saved, savedLength(q, B, T, H), dOut, dq, dk, dv, B, T, H, hd)
      const all32 = isF32(q) && isF32(k) && isF32(v) && isF32(out) && isF32(saved) && isF32(dOut) && isF32(dq) &&
        isF32(dk) && isF32(dv)
      if (all32 && flashAttentionFits(B, T, H, hd)) {
        wasm.flashBackward(q, k, v, out, saved, dOut, dq, dk, dv, B, T, H, hd)
      } else if (isF32(q)) flash.backward(q, k, v, out, saved, dOut, dq, dk, dv, B, T, H, hd)
      else reference.backward(q, k, v, saved, dOut, dq, dk, dv, B, T, H, hd)
    }
  }
}

/** Causal attention through the strided TypeScript gemm, float64 or float32 alike. */
const attentionGemm = (
  gemm: Gemm,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  probs: FloatArray,
  out: FloatArray,
  B: number,
  T: number,
  H: number,
  hd: number
): void => {
  const stride = H * hd
  const scale = 1 / Math.sqrt(hd)
  forEachHead(B, T, H, hd, (head, pOff) => {
    // Raw scores q_i·k_j on and below the diagonal.
    gemm(q, head, stride, false, k, head, stride, true, probs, pOff, T, T, T, hd, false, "lowerC")
    causalSoftmax(probs, pOff, T, scale)
    // out = P·v from the stored probabilities, so backward differentiates exactly this.
    gemm(probs, pOff, T, false, v, head, stride, false, out, head, stride, T, hd, T, false, "lowerA")
  })
}

/**
 * The backward of attention through `gemm`, with its own dS buffer (grown on demand).
 * With `dP = dOut·vᵀ` and the softmax backward `dS = P ⊙ (dP − rowsum(P ⊙ dP))`:
 * `dv = Pᵀ·dOut`, `dq = dS·k/√hd`, `dk = dSᵀ·q/√hd`. Overwrites dq, dk and dv.
 */
const makeAttentionBackwardGemm = (gemm: Gemm): ReferenceAttention["backward"] => {
  let dsScratch = new Float64Array(64 * 64)
  return (q, k, v, probs, dOut, dq, dk, dv, B, T, H, hd) => {
    if (dsScratch.length < T * T) dsScratch = new Float64Array(T * T)
    const ds = dsScratch
    const stride = H * hd
    const scale = 1 / Math.sqrt(hd)
    forEachHead(B, T, H, hd, (head, pOff) => {
      gemm(probs, pOff, T, true, dOut, head, stride, false, dv, head, stride, T, hd, T, false, "upperA")
      gemm(dOut, head, stride, false, v, head, stride, true, ds, 0, T, T, T, hd, false, "lowerC")
      for (let i = 0; i < T; i++) {
        const row = i * T
        const pRow = pOff + i * T
        let rowDot = 0
        for (let j = 0; j <= i; j++) rowDot += probs[pRow + j] * ds[row + j]
        for (let j = 0; j <= i; j++) ds[row + j] = probs[pRow + j] * (ds[row + j] - rowDot) * scale
        // dS must be exactly zero above the diagonal: the triangular products read into it.
        for (let j = i + 1; j < T; j++) ds[row + j] = 0
      }
      gemm(ds, 0, T, false, k, head, stride, false, dq, head, stride, T, hd, T, false, "lowerA")
      gemm(ds, 0, T, true, q, head, stride, false, dk, head, stride, T, hd, T, false, "upperA")
    })
  }
}
