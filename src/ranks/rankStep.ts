/**
 * One rank's part of an update. With P ranks and B/μ micro-batches, the step runs in rounds:
 * in round a, rank r computes micro-batch j = aP + r into its gradient slot; once every rank has
 * (barrier), each rank adds the round's slots, in order of j, into the parameters it owns; once
 * every rank has (barrier), the slots are free for the next round. The step gradient is thus the
 * sum of the micro-batch gradients in order of j, exactly as one thread computes it
 * (`train/stepper.ts`), whatever P is.
 *
 * Then each rank takes the squared norm of its parameters' gradients; after a last barrier every
 * rank reads all of them and the micro-batch losses and sums them in canonical order, so every
 * rank reaches the same loss, norm and clipping factor — and the same decision to skip an update
 * that met a NaN or ±∞ — and updates its own parameters.
 */
import type { KernelsShape } from "../kernels/KernelsShape.ts"
import type { LanguageModel } from "../model/model.ts"
import type { OptimizerState, UpdateRule, UpdateTarget } from "../optim/optimizer.ts"
import type { NamedTensors } from "../tensor/namedTensors.ts"
import type { Barrier } from "./barrier.ts"
import { firstNonFinite, type NonFiniteEntry } from "./finite.ts"
import type { SharedLayout, SharedViews } from "./sharedMemory.ts"

export interface RankParts {
  readonly rank: number
  readonly layout: SharedLayout
  readonly views: SharedViews
  readonly barrier: Barrier
  readonly kernels: KernelsShape
  readonly model: LanguageModel
  readonly rule: UpdateRule
  /** Samples per micro-batch. */
  readonly micro: number
  /** 0 disables clipping. */
  readonly clipNorm: number
}

/** Where a rank's time went in one update, in milliseconds. */
export interface RankPhases {
  /** Forward and backward passes of its micro-batches. */
  readonly compute: number
  /** Adding the rounds' gradients into its parameters' step gradient. */
  readonly reduce: number
  /** Waiting at barriers for the other ranks. */
  readonly wait: number
  /** Norms, clipping, the optimizer update and the finiteness scan of its parameters. */
  readonly update: number
}

export interface RankStepReport {
  readonly phases: RankPhases
  readonly loss: number
  readonly gradNorm: number
  readonly applied: boolean
  readonly nonFinite: ReadonlyArray<NonFiniteEntry>
}

const subset = (tensors: NamedTensors, names: ReadonlySet<string>): NamedTensors =>
  new Map([...tensors].filter(([name]) => names.has(name)))

/** The parameter a state tensor `<prefix>.<parameter>` belongs to. */
const parameterOf = (stateName: string): string => stateName.slice(stateName.indexOf(".") + 1)

export const makeRankStep = (parts: RankParts) => {
  const { rank, layout, views, barrier, kernels, model, rule, micro } = parts
  const { ranks, microBatches } = layout
  const tokensPerStep = microBatches * layout.microTokens
  const gradScale = 1 / tokensPerStep
  const maxNorm = parts.clipNorm > 0 ? parts.clipNorm : Infinity

  const owned = layout.params.flatMap((slot, index) => (layout.owners[index] === rank ? [index] : []))
  const ownedNames = new Set(owned.map((index) => layout.params[index]!.name))
  const targets: ReadonlyArray<UpdateTarget> = model.params.filter((spec) => ownedNames.has(spec.name))
  const stepGrads = owned.map((index) => views.stepGradients.get(layout.params[index]!.name)!.data)
  const slotGrads = views.slots.map((slot) => owned.map((index) => slot.get(layout.params[index]!.name)!.data))
  const ownedParams = subset(views.params, ownedNames)
  const ownedState = new Map([...views.state].filter(([name]) => ownedNames.has(parameterOf(name))))
  const rounds = Math.ceil(microBatches / ranks)

  const reduceRound = (round: number): void => {
    const first = round * ranks
    const filled = Math.min(ranks, microBatches - first)
    for (let t = 0; t < owned.length; t++) {
      const sum = stepGrads[t]!
      if (round === 0) sum.fill(0)
      for (let q = 0; q < filled; q++) kernels.addInPlace(sum, slotGrads[q]![t]!)
    }
  }

  return (lr: number, optimizerStep: number): RankStepReport => {
    let compute = 0
    let reduce = 0
    let wait = 0
    let mark = performance.now()
    /** Milliseconds since the last lap. */
    const lap = (): number => {
      const now = performance.now()
      const elapsed = now - mark
      mark = now
      return elapsed
    }
    const arrive = () => {
      lap()
      barrier.arrive()
      wait += lap()
    }
    for (let round = 0; round < rounds; round++) {
      const j = round * ranks + rank
      if (j < microBatches) {
        views.losses[j] = model.lossAndGrad(
          kernels,
          views.params,
          views.ids(j),
          views.targets(j),
          micro,
          gradScale,
          views.slots[rank]!
        )
      }
      compute += lap()
      arrive()
      reduceRound(round)
      reduce += lap()
      arrive()
    }
    for (let t = 0; t < owned.length; t++) views.squares[owned[t]!] = kernels.sumSquares(stepGrads[t]!)
    const norms = lap()
    arrive()
    const phases = () => ({ compute, reduce, wait, update: norms + lap() })

    let lossSum = 0
    for (let j = 0; j < microBatches; j++) lossSum += views.losses[j]!
    const loss = lossSum / tokensPerStep
    let total = 0
    for (let i = 0; i < layout.params.length; i++) total += views.squares[i]!
    const gradNorm = Math.sqrt(total)
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      return { phases: phases(), loss, gradNorm, applied: false, nonFinite: [] }
    }

    // As clipGradNorm (optim/clip.ts), over this rank's parameters.
    const factor = maxNorm / (gradNorm + 1e-6)
    if (factor < 1) { for (const g of stepGrads) kernels.scale(g, factor, g) }
    const state: OptimizerState = { kind: rule.kind, step: optimizerStep, tensors: views.state }
    rule.update(kernels, views.params, views.stepGradients, lr, state, targets)
    const nonFinite = [firstNonFinite(kernels, ownedParams), firstNonFinite(kernels, ownedState)].filter((e) =>
      e !== undefined
    )
    return { phases: phases(), loss, gradNorm, applied: true, nonFinite }
  }
}
