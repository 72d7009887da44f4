import type { KernelsShape } from "../KernelsShape.ts"
import { attention, attentionBackward } from "./attention.ts"
import { add, addInPlace, mul, scale, silu, siluBackward } from "./elementwise.ts"
import { embedding, embeddingBackward } from "./embedding.ts"
import { crossEntropy, softmax } from "./loss.ts"
import { matmul } from "./matmul.ts"
import { rmsnorm, rmsnormBackward } from "./norm.ts"
import { rope } from "./rope.ts"
import { adamw, sgd, sumSquares } from "./update.ts"

export { KernelArgumentError } from "./errors.ts"

/**
 * The reference backend: plain TypeScript over typed arrays, float32 or float64 alike.
 * Every kernel is deterministic (fixed summation order, no threads).
 */
export const cpuKernels: KernelsShape = {
  backend: "cpu",
  // float32 matmul runs in WebAssembly SIMD; everything else (and float64) in TypeScript
  mode: "typescript+wasm-simd",
  matmul,
  add,
  mul,
  scale,
  addInPlace,
  silu,
  siluBackward,
  rmsnorm,
  rmsnormBackward,
  rope,
  attention,
  attentionBackward,
  embedding,
  embeddingBackward,
  crossEntropy,
  softmax,
  sumSquares,
  adamw,
  sgd
}
