import { Layer } from "effect"
import { makeCpuKernels } from "../kernels/cpu/index.ts"
import { Kernels } from "../kernels/Kernels.ts"
import type { KernelsShape } from "../kernels/KernelsShape.ts"

/** The calls of the kernel interface that compute (everything but its labels and a size query). */
export type KernelMethod = Exclude<
  keyof KernelsShape,
  "backend" | "mode" | "forRanks" | "storage" | "attentionSavedLength"
>

/** Told after each kernel call returns: which call, how long it took, and the arguments it got. */
export type OnKernelCall = (method: KernelMethod, ms: number, args: ReadonlyArray<unknown>) => void

/**
 * `inner` with every call timed: each call runs `inner`'s own function with the same arguments,
 * in the same order, so the numbers computed are exactly those of `inner`. Only the two clock
 * reads lie inside the timed interval; `onCall` runs after it, so the listener's own cost counts
 * as time outside the kernels.
 */
export const profiledKernels = (inner: KernelsShape, onCall: OnKernelCall): KernelsShape => {
  const timed = <M extends KernelMethod>(method: M): KernelsShape[M] => {
    const call = inner[method] as (...args: Array<unknown>) => unknown
    const wrapped = (...args: Array<unknown>): unknown => {
      const t0 = performance.now()
      const result = call.apply(inner, args)
      const ms = performance.now() - t0
      onCall(method, ms, args)
      return result
    }
    return wrapped as KernelsShape[M]
  }
  // Listed one by one rather than looped over, so that a call added to the interface fails to
  // compile here instead of running untimed.
  return {
    backend: inner.backend,
    mode: inner.mode,
    storage: inner.storage,
    matmul: timed("matmul"),
    add: timed("add"),
    mul: timed("mul"),
    scale: timed("scale"),
    addInPlace: timed("addInPlace"),
    silu: timed("silu"),
    siluBackward: timed("siluBackward"),
    rmsnorm: timed("rmsnorm"),
    rmsnormBackward: timed("rmsnormBackward"),
    rope: timed("rope"),
    attentionSavedLength: (q, B, T, H, hd) => inner.attentionSavedLength(q, B, T, H, hd),
    attention: timed("attention"),
    attentionBackward: timed("attentionBackward"),
    embedding: timed("embedding"),
    embeddingBackward: timed("embeddingBackward"),
    crossEntropy: timed("crossEntropy"),
    softmax: timed("softmax"),
    sumSquares: timed("sumSquares"),
    adamw: timed("adamw"),
    sgd: timed("sgd")
  }
}

/**
 * The cpu backend with every call timed, as the kernels part of a run
 * (`composeRun(config, { kernels: profiledCpuKernelsLayer(onCall) })`).
 */
export const profiledCpuKernelsLayer = (onCall: OnKernelCall): Layer.Layer<Kernels> =>
  Layer.sync(Kernels, () => profiledKernels(makeCpuKernels(), onCall))
