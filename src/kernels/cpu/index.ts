import type { KernelsShape } from "../KernelsShape.ts"
import { makeAttention } from "./attention.ts"
import { makeGemm } from "./gemm.ts"
import { softmax } from "./loss.ts"
import { makeMatmul } from "./matmul.ts"
import { makeParamKernels } from "./paramKernels.ts"
import { sumSquares } from "./update.ts"
import { makeVectorKernels } from "./vectorKernels.ts"
import { defaultMatmulVariant, makeWasmMatmul } from "./wasm/matmulWasm.ts"
import { makeWasmVector } from "./wasm/vectorWasm.ts"

/**
 * A new instance of the reference backend. Float32 matmul, fused causal attention (forward and
 * backward), add, mul, scale, addInPlace, SiLU, RMSNorm, RoPE, cross-entropy, AdamW, SGD and the
 * embedding run in WebAssembly SIMD; the rest (softmax, sumSquares, attention at sizes the fused
 * kernel does not take), and every float64 call (gradient checks), in TypeScript over typed
 * arrays. The wasm kernels other than matmul, attention, SiLU, RMSNorm and cross-entropy give the
 * TypeScript kernels' bits. Every kernel is deterministic (fixed summation order, no threads).
 *
 * The instance owns all its working memory: gemm's packing panels, the reference attention's dS
 * buffer, the TypeScript attention's accumulators, the RoPE tables and the WebAssembly modules
 * with their memories. Nothing is shared between instances, so each thread (or rank) makes its
 * own; calls on one instance must not overlap.
 */
export const makeCpuKernels = (): KernelsShape => {
  const gemm = makeGemm()
  const wasmMatmul = makeWasmMatmul()
  const wasmVector = makeWasmVector()
  const vector = makeVectorKernels(wasmVector)
  const params = makeParamKernels()
  return {
    backend: "cpu",
    // Which matmul build runs decides the float32 trajectory: `train` prints it.
    mode: defaultMatmulVariant === "fma" ? "typescript+wasm-simd+fma" : "typescript+wasm-simd",
    forRanks: "cpu",
    matmul: makeMatmul(gemm, wasmMatmul),
    add: vector.add,
    mul: vector.mul,
    scale: vector.scale,
    addInPlace: vector.addInPlace,
    silu: vector.silu,
    siluBackward: vector.siluBackward,
    rmsnorm: vector.rmsnorm,
    rmsnormBackward: vector.rmsnormBackward,
    rope: vector.rope,
    ...makeAttention(gemm, wasmVector),
    embedding: params.embedding,
    embeddingBackward: params.embeddingBackward,
    crossEntropy: vector.crossEntropy,
    softmax,
    sumSquares,
    adamw: params.adamw,
    sgd: params.sgd
  }
}
