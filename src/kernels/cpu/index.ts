import type { KernelsShape } from "../KernelsShape.ts"
import { makeAttention } from "./attention.ts"
import { makeGemm } from "./gemm.ts"
import { softmax } from "./loss.ts"
import { makeMatmul } from "./matmul.ts"
import { makeParamKernels } from "./paramKernels.ts"
import { sumSquares } from "./update.ts"
import { makeVectorKernels } from "./vectorKernels.ts"
import { defaultMatmulVariant, makeWasmMatmul } from "./wasm/matmulWasm.ts"
import { makeOperandHeap } from "./wasm/operandHeap.ts"
import { makeWasmParams } from "./wasm/paramsWasm.ts"
import { makeWasmStorage, type WasmStorage } from "./wasm/storage.ts"
import { makeWasmVector } from "./wasm/vectorWasm.ts"

/**
 * A new instance of the reference backend. Float32 matmul, fused causal attention (forward and
 * backward), add, mul, scale, addInPlace, SiLU, RMSNorm, RoPE, cross-entropy, AdamW, SGD and the
 * embedding run in WebAssembly SIMD; the rest (softmax, sumSquares, attention at sizes the fused
 * kernel does not take), and every float64 call (gradient checks), in TypeScript over typed
 * arrays. The wasm kernels other than matmul, attention, SiLU, RMSNorm and cross-entropy give the
 * TypeScript kernels' bits. Every kernel is deterministic (fixed summation order, no threads).
 *
 * Its tensor storage is one shared WebAssembly memory that all its modules import
 * (wasm/storage.ts): tensors allocated there are used in place by the kernels, anything else is
 * copied in and out per call. A rank's instance is built over the run's memory (`storage` made
 * from it), so ranks and the run's thread read the same parameters without copies.
 *
 * The instance owns its working memory: gemm's packing panels, the reference attention's dS
 * buffer, the TypeScript attention's accumulators, the RoPE tables and its scratch area in the
 * memory. Calls on one instance must not overlap; each thread (or rank) makes its own.
 */
export const makeCpuKernels = (storage: WasmStorage = makeWasmStorage()): KernelsShape => {
  const gemm = makeGemm()
  const heap = makeOperandHeap(storage)
  const wasmMatmul = makeWasmMatmul(defaultMatmulVariant, heap)
  const wasmVector = makeWasmVector(heap)
  const vector = makeVectorKernels(wasmVector)
  const params = makeParamKernels(makeWasmParams(heap))
  return {
    backend: "cpu",
    // Which matmul build runs decides the float32 trajectory: `train` prints it.
    mode: defaultMatmulVariant === "fma" ? "typescript+wasm-simd+fma" : "typescript+wasm-simd",
    forRanks: { backend: "cpu", storage },
    storage,
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
