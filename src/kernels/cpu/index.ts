import type { KernelsShape } from "../KernelsShape.ts"
import { makeAttention, makeAttentionBackward } from "./attention.ts"
import { add, addInPlace, mul, scale, silu, siluBackward } from "./elementwise.ts"
import { embedding, embeddingBackward } from "./embedding.ts"
import { makeGemm } from "./gemm.ts"
import { crossEntropy, softmax } from "./loss.ts"
import { makeMatmul } from "./matmul.ts"
import { rmsnorm, rmsnormBackward } from "./norm.ts"
import { makeRope } from "./rope.ts"
import { adamw, sgd, sumSquares } from "./update.ts"
import { makeWasmMatmul } from "./wasm/matmulWasm.ts"

/**
 * A new instance of the reference backend: plain TypeScript over typed arrays, float32 or
 * float64 alike. Every kernel is deterministic (fixed summation order, no threads).
 *
 * The instance owns all its working memory: gemm's packing panels, attention's dS buffer, the
 * RoPE tables and the WebAssembly module with its memory. Nothing is shared between instances,
 * so each thread (or rank) makes its own; calls on one instance must not overlap.
 */
export const makeCpuKernels = (): KernelsShape => {
  const gemm = makeGemm()
  const wasmMatmul = makeWasmMatmul()
  return {
    backend: "cpu",
    // float32 matmul runs in WebAssembly SIMD; everything else (and float64) in TypeScript
    mode: "typescript+wasm-simd",
    matmul: makeMatmul(gemm, wasmMatmul),
    add,
    mul,
    scale,
    addInPlace,
    silu,
    siluBackward,
    rmsnorm,
    rmsnormBackward,
    rope: makeRope(),
    attention: makeAttention(gemm, wasmMatmul),
    attentionBackward: makeAttentionBackward(gemm, wasmMatmul),
    embedding,
    embeddingBackward,
    crossEntropy,
    softmax,
    sumSquares,
    adamw,
    sgd
  }
}
