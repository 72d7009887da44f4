import * as check from "../checks.ts"
import type { KernelsShape } from "../KernelsShape.ts"
import { add, mul, silu, siluBackward } from "./elementwise.ts"
import { crossEntropy } from "./loss.ts"
import { rmsnorm, rmsnormBackward } from "./norm.ts"
import { makeWasmVector, type WasmVector, wasmVectorFits } from "./wasm/vectorWasm.ts"

type VectorKernels = Pick<
  KernelsShape,
  "add" | "mul" | "silu" | "siluBackward" | "rmsnorm" | "rmsnormBackward" | "crossEntropy"
>

const f32 = (x: unknown): x is Float32Array => x instanceof Float32Array

/**
 * The elementwise, RMSNorm and cross-entropy kernels of one instance: float32 operands run on
 * the WebAssembly SIMD module (wasm/vector.wat, with its own memory), anything else (the float64
 * of gradient checks) on the TypeScript kernels, which stay the reference. Row kernels need rows
 * of a multiple of 4 floats for the SIMD loops and fall back to TypeScript otherwise.
 */
export const makeVectorKernels = (wasm: WasmVector = makeWasmVector()): VectorKernels => {
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
    crossEntropy: (logits, targets, dLogits, rows, vocab, gradScale) => {
      check.crossEntropy(logits, targets, dLogits, rows, vocab)
      if (f32(logits) && f32(dLogits) && vocab % 4 === 0 && wasmVectorFits(rows * vocab, rows * vocab, 4 * rows)) {
        return wasm.crossEntropy(logits, targets, dLogits, rows, vocab, gradScale)
      }
      return crossEntropy(logits, targets, dLogits, rows, vocab, gradScale)
    }
  }
}
