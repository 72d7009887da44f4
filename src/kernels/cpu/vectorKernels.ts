import * as check from "../checks.ts"
import type { KernelsShape } from "../KernelsShape.ts"
import { add, addInPlace, mul, scale, silu, siluBackward } from "./elementwise.ts"
import { crossEntropy } from "./loss.ts"
import { rmsnorm, rmsnormBackward } from "./norm.ts"
import { makeRopeTables, ropeRows } from "./rope.ts"
import { makeWasmVector, type WasmVector, wasmVectorFits } from "./wasm/vectorWasm.ts"

type VectorKernels = Pick<
  KernelsShape,
  | "add"
  | "mul"
  | "scale"
  | "addInPlace"
  | "silu"
  | "siluBackward"
  | "rmsnorm"
  | "rmsnormBackward"
  | "rope"
  | "crossEntropy"
>

const f32 = (x: unknown): x is Float32Array => x instanceof Float32Array

/**
 * The elementwise, RMSNorm, RoPE and cross-entropy kernels of one instance: float32 operands run
 * on the WebAssembly SIMD module (wasm/vector.wat, over the instance's storage), anything else (the
 * float64 of gradient checks) on the TypeScript kernels, which stay the reference. Row kernels
 * need rows (RoPE: heads) of a multiple of 4 floats for the SIMD loops and fall back to
 * TypeScript otherwise. add, mul, scale, addInPlace and RoPE give the TypeScript kernels' bits.
 */
export const makeVectorKernels = (wasm: WasmVector = makeWasmVector()): VectorKernels => {
  // RoPE tables, computed in float64 once per (T, hd, θ) and shared by both paths.
  const ropeTable = makeRopeTables()
  return {
    add: (a, b, out) => {
      check.add(a, b, out)
      const n = out.length
      if (f32(a) && f32(b) && f32(out) && wasmVectorFits(n, n)) wasm.add(a, b, out, n)
      else add(a, b, out)
    },
    mul: (a, b, out) => {
      check.mul(a, b, out)
      const n = out.length
      if (f32(a) && f32(b) && f32(out) && wasmVectorFits(n, n)) wasm.mul(a, b, out, n)
      else mul(a, b, out)
    },
    scale: (x, s, out) => {
      check.scale(x, out)
      const n = out.length
      if (f32(x) && f32(out) && wasmVectorFits(n)) wasm.scale(x, s, out, n)
      else scale(x, s, out)
    },
    // A float32 sum of two floats rounded once, as the TypeScript kernel's double sum rounded to float32.
    addInPlace: (dst, src) => {
      check.addInPlace(dst, src)
      const n = dst.length
      if (f32(dst) && f32(src) && wasmVectorFits(n, n)) wasm.add(dst, src, dst, n)
      else addInPlace(dst, src)
    },
    silu: (x, out) => {
      check.silu(x, out)
      const n = out.length
      if (f32(x) && f32(out) && wasmVectorFits(n)) wasm.silu(x, out, n)
      else silu(x, out)
    },
    siluBackward: (x, dy, dx, accumulate) => {
      check.siluBackward(x, dy, dx)
      const n = dx.length
      if (f32(x) && f32(dy) && f32(dx) && wasmVectorFits(n, n, n)) wasm.siluBackward(x, dy, dx, n, accumulate)
      else siluBackward(x, dy, dx, accumulate)
    },
    rmsnorm: (x, w, out, rstd, rows, dim, eps) => {
      check.rmsnorm(x, w, out, rstd, rows, dim)
      if (
        f32(x) && f32(w) && f32(out) && f32(rstd) && dim % 4 === 0 &&
        wasmVectorFits(rows * dim, dim, rows * dim, rows)
      ) wasm.rmsnorm(x, w, out, rstd, rows, dim, eps)
      else rmsnorm(x, w, out, rstd, rows, dim, eps)
    },
    rmsnormBackward: (x, w, rstd, dy, dx, dw, rows, dim, accumulate) => {
      check.rmsnormBackward(x, w, rstd, dy, dx, dw, rows, dim)
      if (
        f32(x) && f32(w) && f32(rstd) && f32(dy) && f32(dx) && f32(dw) && dim % 4 === 0 &&
        wasmVectorFits(rows * dim, dim, rows, rows * dim, rows * dim, dim)
      ) wasm.rmsnormBackward(x, w, rstd, dy, dx, dw, rows, dim, accumulate)
      else rmsnormBackward(x, w, rstd, dy, dx, dw, rows, dim, accumulate)
    },
    rope: (x, out, rows, T, H, hd, theta, inverse) => {
      check.rope(x, out, rows, H, hd)
      const table = ropeTable(T, hd, theta)
      if (f32(x) && f32(out) && hd % 4 === 0 && T > 0 && wasmVectorFits(rows * H * hd, T * hd, T * hd)) {
        wasm.rope(x, out, rows, T, H, hd, table.cos, table.sin, inverse)
      } else ropeRows(x, out, rows, T, H, hd, table, inverse)
    },
    crossEntropy: (logits, targets, dLogits, rows, vocab, gradScale) => {
      check.crossEntropy(logits, targets, dLogits, rows, vocab)
      if (f32(logits) && f32(dLogits) && vocab % 4 === 0 && wasmVectorFits(rows * vocab, rows * vocab, 4 * rows)) {
        return wasm.crossEntropy(logits, targets, dLogits, rows, vocab, gradScale)
      }
      return crossEntropy(logits, targets, dLogits, rows, vocab, gradScale)
    }
  }
}
