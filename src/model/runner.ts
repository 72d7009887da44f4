import { Arena } from "../autograd/arena.ts"
import { crossEntropy } from "../autograd/ops/loss.ts"
import { Tape } from "../autograd/tape.ts"
import type { Var } from "../autograd/var.ts"
import type { KernelsShape } from "../kernels/KernelsShape.ts"
import type { TensorStorage } from "../kernels/TensorStorage.ts"
import { type DType, dtypeOf, type FloatArray } from "../tensor/tensor.ts"
import { ModelInputError } from "./errors.ts"
import { initParams } from "./init.ts"
import type { LanguageModel, LlamaConfig, MlpConfig, Params, ParamSpec } from "./model.ts"
import { checkParamMap } from "./params.ts"

/** The values of `x` on the host: float32 ones through the kernels' storage (which may hold them elsewhere). */
const hostValues = (k: KernelsShape, x: FloatArray): FloatArray => x instanceof Float32Array ? k.storage.read(x) : x

/** Builds the logits `[batch·len, V]` of a model on a tape; `param(name)` gives the parameter's leaf. */
export type Forward = (t: Tape, param: (name: string) => Var, ids: Int32Array, batch: number, len: number) => Var

export interface ModelDefinition {
  readonly kind: LanguageModel["kind"]
  readonly config: LlamaConfig | MlpConfig
  readonly vocabSize: number
  readonly seqLen: number
  readonly params: ReadonlyArray<ParamSpec>
  readonly forward: Forward
}

// Activation buffers are kept per batch geometry; a few geometries alternate in practice
// (training micro-batch, evaluation batch, sampling prefixes), so older ones are dropped past this.
const MAX_ARENAS = 8

/**
 * A LanguageModel from its forward pass: parameter validation, buffer reuse across calls,
 * the cross-entropy head and the backward pass are the same for every architecture.
 */
export const languageModel = (def: ModelDefinition): LanguageModel => {
  // Keyed by storage too: a model may be run with several kernels instances (a test comparing
  // backends), and each instance's activations belong in its own storage.
  const arenas = new Map<string, Arena>()
  const storageIds = new WeakMap<TensorStorage, number>()
  let storages = 0
  const arenaFor = (k: KernelsShape, dtype: DType, batch: number, len: number): Arena => {
    let storageId = storageIds.get(k.storage)
    if (storageId === undefined) {
      storageId = storages++
      storageIds.set(k.storage, storageId)
    }
    const key = `${storageId}:${dtype}:${batch}x${len}`
    let arena = arenas.get(key)
    if (arena === undefined) {
      arena = new Arena(dtype, k.storage)
      arenas.set(key, arena)
      if (arenas.size > MAX_ARENAS) {
        const oldest = arenas.keys().next().value!
        arenas.get(oldest)!.releaseAll()
        arenas.delete(oldest)
      }
    }
    arena.rewind()
    return arena
  }

  const checkMap = (map: Params): void => {
    const error = checkParamMap(def.params, map)
    if (error !== undefined) throw error
  }

  const checkTokens = (field: string, tokens: Int32Array, batch: number, len: number): void => {
    if (!Number.isInteger(batch) || batch < 1) {
      throw new ModelInputError({ field: "batch", value: batch, expected: "a positive integer" })
    }
    if (tokens.length !== batch * len) {
      throw new ModelInputError({
        field: `${field}.length`,
        value: tokens.length,
        expected: `batch·len = ${batch * len}`
      })
    }
  }

  const leaves = (t: Tape, params: Params, grads: Params | undefined): Map<string, Var> => {
    const vars = new Map<string, Var>()
    for (const spec of def.params) {
      const value = params.get(spec.name)!.data
      vars.set(spec.name, t.leaf(spec.shape, value, grads !== undefined, grads?.get(spec.name)!.data ?? null))
    }
    return vars
  }

  const lookup = (vars: Map<string, Var>) => (name: string): Var => vars.get(name)!

  const dtypeOfParams = (params: Params): DType => dtypeOf(params.get(def.params[0].name)!.data)

  const lossAndGrad = (
    k: KernelsShape,
    params: Params,
    ids: Int32Array,
    targets: Int32Array,
    batch: number,
    gradScale: number,
    grads: Params
  ): number => {
    checkMap(params)
    checkMap(grads)
    checkTokens("ids", ids, batch, def.seqLen)
    checkTokens("targets", targets, batch, def.seqLen)
    const dtype = dtypeOfParams(params)
    const t = new Tape(k, dtype, true, arenaFor(k, dtype, batch, def.seqLen))
    const vars = leaves(t, params, grads)
    const logits = def.forward(t, lookup(vars), ids, batch, def.seqLen)
    const loss = crossEntropy(t, logits, targets, gradScale)
    t.backward(loss.node)
    // A parameter that received no contribution (e.g. no path to the loss) has zero gradient.
    for (const v of vars.values()) if (!v.hasGrad && v.grad !== null) k.storage.fill(v.grad, 0)
    return loss.total
  }

  const loss = (k: KernelsShape, params: Params, ids: Int32Array, targets: Int32Array, batch: number): number => {
    checkMap(params)
    checkTokens("ids", ids, batch, def.seqLen)
    checkTokens("targets", targets, batch, def.seqLen)
    const dtype = dtypeOfParams(params)
    const t = new Tape(k, dtype, false, arenaFor(k, dtype, batch, def.seqLen))
    const logits = def.forward(t, lookup(leaves(t, params, undefined)), ids, batch, def.seqLen)
    return crossEntropy(t, logits, targets, 0).total
  }

  const logits = (k: KernelsShape, params: Params, ids: Int32Array, batch: number, len: number): FloatArray => {
    checkMap(params)
    if (!Number.isInteger(len) || len < 1 || len > def.seqLen) {
      throw new ModelInputError({ field: "len", value: len, expected: `an integer in [1, ${def.seqLen}]` })
    }
    checkTokens("ids", ids, batch, len)
    const dtype = dtypeOfParams(params)
    const t = new Tape(k, dtype, false, arenaFor(k, dtype, batch, len))
    // A copy: the arena buffer is overwritten by the next call with this geometry.
    return hostValues(k, def.forward(t, lookup(leaves(t, params, undefined)), ids, batch, len).value).slice()
  }

  return {
    kind: def.kind,
    config: def.config,
    vocabSize: def.vocabSize,
    seqLen: def.seqLen,
    params: def.params,
    init: (seed, dtype) => initParams(def.params, seed, dtype),
    lossAndGrad,
    loss,
    logits
  }
}
