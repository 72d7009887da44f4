import type { KernelsShape } from "../kernels/KernelsShape.ts"
import type { NamedTensors } from "../tensor/namedTensors.ts"
import type { DType, FloatArray } from "../tensor/tensor.ts"

export interface LlamaConfig {
  readonly vocabSize: number
  readonly dim: number
  readonly layers: number
  readonly heads: number
  readonly ffnDim: number
  readonly seqLen: number
  readonly normEps: number
  readonly ropeTheta: number
}

export interface MlpConfig {
  readonly vocabSize: number
  readonly dim: number
  readonly hidden: number
  readonly seqLen: number
}

/** How a parameter is initialised (see init.ts). */
export type ParamInit =
  | { readonly kind: "normal"; readonly std: number }
  | { readonly kind: "ones" }

export interface ParamSpec {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  /** True for matrices (weight decay applies), false for norm weights. */
  readonly decay: boolean
  readonly init: ParamInit
}

/** Parameters by name, in the order of the specs. */
export type Params = NamedTensors

export interface LanguageModel {
  readonly kind: "llama" | "mlp"
  readonly config: LlamaConfig | MlpConfig
  readonly vocabSize: number
  readonly seqLen: number
  readonly params: ReadonlyArray<ParamSpec>
  /** Deterministic from `seed`: parameter `name` draws from stream `streamId(name)`, counter = flat index. */
  init(seed: number, dtype?: DType): Params
  /**
   * One micro-batch of `batch` rows of `seqLen` tokens (ids/targets of length batch·seqLen).
   * Overwrites `grads` (same names and shapes as params) with the gradient of
   * `gradScale · Σ CE`, and returns the float64 sum of per-token cross-entropies.
   */
  lossAndGrad(
    k: KernelsShape,
    params: Params,
    ids: Int32Array,
    targets: Int32Array,
    batch: number,
    gradScale: number,
    grads: Params
  ): number
  /** Forward only: the sum of per-token cross-entropies. */
  loss(k: KernelsShape, params: Params, ids: Int32Array, targets: Int32Array, batch: number): number
  /** Logits `[batch·len, V]` for `batch` rows of `len ≤ seqLen` tokens (positions 0…len−1). */
  logits(k: KernelsShape, params: Params, ids: Int32Array, batch: number, len: number): FloatArray
}
