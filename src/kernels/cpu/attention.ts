import type { FloatArray } from "../../tensor/tensor.ts"
import * as check from "../checks.ts"
import type { KernelsShape } from "../KernelsShape.ts"
import { makeAttentionBackwardF32, makeAttentionF32 } from "./attentionF32.ts"
import { causalSoftmax } from "./causalSoftmax.ts"
import type { Gemm } from "./gemm.ts"
import { type WasmMatmul, wasmMatmulFits } from "./wasm/matmulWasm.ts"
import type { WasmVector } from "./wasm/vectorWasm.ts"

/*
 * The TypeScript path (float64, gradient checks; float32 goes to attentionF32.ts).
 * q, k, v, out are [B, T, H, hd]: head h of batch b is a T×hd matrix starting at
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

/** Whether the float32 WebAssembly path can take attention of these sizes (its largest product is T×T×T or T×T×hd). */
const wasmFits = (T: number, hd: number): boolean => wasmMatmulFits(T, Math.max(T, hd), Math.max(T, hd))

/**
 * Causal attention: float32 tensors run through the WebAssembly matmul (attentionF32.ts), anything
 * else (the float64 of gradient checks) through `gemm` (which holds the packing scratch).
 */
export const makeAttention = (gemm: Gemm, wasm: WasmMatmul, vector: WasmVector): KernelsShape["attention"] => {
  const f32 = makeAttentionF32(wasm, vector)
  return (q, k, v, probs, out, B, T, H, hd) => {
    check.attention(q, k, v, probs, out, B, T, H, hd)
    if (
      q instanceof Float32Array && k instanceof Float32Array && v instanceof Float32Array &&
      probs instanceof Float32Array && out instanceof Float32Array && wasmFits(T, hd)
    ) {
      f32(q, k, v, probs, out, B, T, H, hd)
      return
    }
    attentionGemm(gemm, q, k, v, probs, out, B, T, H, hd)
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
export const makeAttentionBackward = (
  gemm: Gemm,
  wasm: WasmMatmul,
  vector: WasmVector
): KernelsShape["attentionBackward"] => {
  let dsScratch = new Float64Array(64 * 64)
  const f32 = makeAttentionBackwardF32(wasm, vector)
  return (q, k, v, probs, dOut, dq, dk, dv, B, T, H, hd) => {
    check.attentionBackward(q, k, v, probs, dOut, dq, dk, dv, B, T, H, hd)
    if (
      q instanceof Float32Array && k instanceof Float32Array && v instanceof Float32Array &&
      probs instanceof Float32Array && dOut instanceof Float32Array && dq instanceof Float32Array &&
      dk instanceof Float32Array && dv instanceof Float32Array && wasmFits(T, hd)
    ) {
      f32(q, k, v, probs, dOut, dq, dk, dv, B, T, H, hd)
      return
    }
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
