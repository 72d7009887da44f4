import { Effect } from "effect"
import type { DataLoaderShape } from "../data/DataLoader.ts"
import type { KernelsShape } from "../kernels/KernelsShape.ts"
import { moveIntoStorage, type TensorStorage } from "../kernels/TensorStorage.ts"
import type { LanguageModel, Params } from "../model/model.ts"
import { clipGradNorm } from "../optim/clip.ts"
import type { OptimizerState, UpdateRule } from "../optim/optimizer.ts"
import type { RankFailed } from "../ranks/errors.ts"
import { firstNonFinite } from "../ranks/finite.ts"
import type { StepOutcome } from "../ranks/outcome.ts"
import { sizeOf } from "../tensor/tensor.ts"

export interface StepperParts {
  readonly kernels: KernelsShape
  readonly model: LanguageModel
  readonly params: Params
  readonly data: DataLoaderShape
  readonly rule: UpdateRule
  readonly optimizer: OptimizerState
  /** 0 disables clipping. */
  readonly clipNorm: number
}

/** Zeroed gradients shaped like `params`, in the kernels' storage. */
const zerosLike = (params: Params, storage: TensorStorage): Params => {
  const out: Params = new Map()
  for (const [name, t] of params) out.set(name, { shape: t.shape, data: storage.allocate(sizeOf(t.shape)) })
  return out
}

/**
 * The synchronous heart of a run: one optimizer update from the samples at `cursor`.
 *
 * Each micro-batch's gradient is computed into a fresh buffer and added to the step gradient in
 * order of j. Ranks (P) and accumulation (A) only decide who computes which micro-batch, never
 * the order of the sum — so the result depends on (B, μ) alone, bit for bit. The loss is the mean
 * over every token of the global batch, so each micro-batch scales its gradient by 1/(B·T).
 *
 * A non-finite loss or gradient norm stops the step before the update; after it, the parameters
 * and optimizer state are scanned once. These checks only read values: the numbers are unchanged.
 */
export const makeStepper = (parts: StepperParts) => {
  const { kernels, model, params, data, rule, optimizer, clipNorm } = parts
  // The kernels work on the parameters and moments in place from now on: the live maps' entries
  // are replaced by copies in the kernels' storage (as the ranks move them into their memory).
  moveIntoStorage(kernels.storage, params)
  moveIntoStorage(kernels.storage, optimizer.tensors)
  const { global, micro, microBatches } = data.geometry
  const tokensPerStep = global * data.seqLen
  const gradScale = 1 / tokensPerStep
  const stepGrads = zerosLike(params, kernels.storage)
  const microGrads = zerosLike(params, kernels.storage)

  return (cursor: number, lr: number): StepOutcome => {
    for (const g of stepGrads.values()) kernels.storage.fill(g.data, 0)
    let lossSum = 0
    // In one process the P ranks' micro-batches are computed in turn; computing them in order of j
    // is the same reduction a rank-ordered gather-then-sum would perform.
    for (let j = 0; j < microBatches; j++) {
      const batch = data.microBatch(cursor, j)
      lossSum += model.lossAndGrad(kernels, params, batch.ids, batch.targets, micro, gradScale, microGrads)
      for (const [name, g] of stepGrads) kernels.addInPlace(g.data, microGrads.get(name)!.data)
    }
    const loss = lossSum / tokensPerStep
    if (!Number.isFinite(loss)) return { _tag: "NonFinite", quantity: "loss", value: loss, applied: false }
    const gradNorm = clipGradNorm(kernels, stepGrads, clipNorm > 0 ? clipNorm : Infinity)
    if (!Number.isFinite(gradNorm)) {
      return { _tag: "NonFinite", quantity: "gradient norm", value: gradNorm, applied: false }
    }
    rule.update(kernels, params, stepGrads, lr, optimizer, model.params)
    const parameter = firstNonFinite(kernels, params)
    if (parameter !== undefined) {
      return { _tag: "NonFinite", quantity: `parameter ${parameter.name}`, value: parameter.value, applied: true }
    }
    const state = firstNonFinite(kernels, optimizer.tensors)
    if (state !== undefined) {
      return { _tag: "NonFinite", quantity: `optimizer state ${state.name}`, value: state.value, applied: true }
    }
    return { _tag: "Updated", loss, gradNorm }
  }
}

/** The single-thread stepper in the shape of the ranks' step. */
export const inThisThread =
  (stepper: (cursor: number, lr: number) => StepOutcome) =>
  (cursor: number, lr: number, _update: number): Effect.Effect<StepOutcome, RankFailed> =>
    Effect.sync(() => stepper(cursor, lr))

/** Mean cross-entropy (nats/token) of the model over the given validation batches. */
export const evaluate = (
  kernels: KernelsShape,
  model: LanguageModel,
  params: Params,
  batches: ReadonlyArray<
    { readonly ids: Int32Array; readonly targets: Int32Array; readonly count: number; readonly seqLen: number }
  >
): number => {
  let sum = 0
  let tokens = 0
  for (const batch of batches) {
    sum += model.loss(kernels, params, batch.ids, batch.targets, batch.count)
    tokens += batch.count * batch.seqLen
  }
  return sum / tokens
}
