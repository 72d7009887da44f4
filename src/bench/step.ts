import { Effect } from "effect"
import { type GpujsMode, makeGpujsKernels } from "../kernels/gpujs/index.ts"
import { makeCpuKernels } from "../kernels/cpu/index.ts"
import type { KernelsShape } from "../kernels/KernelsShape.ts"
import { zerosFor } from "../model/init.ts"
import { makeLlama } from "../model/llama.ts"
import type { LlamaConfig } from "../model/model.ts"
import { adamw } from "../optim/adamw.ts"
import { clipGradNorm } from "../optim/clip.ts"
import { bits32 } from "../tensor/rng.ts"

/** The reference model of DESIGN.md. */
export const referenceModel: LlamaConfig = {
  vocabSize: 256, dim: 64, layers: 2, heads: 4, ffnDim: 176, seqLen: 64, normEps: 1e-5, ropeTheta: 10000
}
export const referenceBatch = 16

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

export interface StepTiming {
  readonly backend: string
  /** Median of the timed steps. */
  readonly msPerStep: number
  readonly msForwardBackward: number
  readonly msClipAndUpdate: number
  readonly tokensPerSec: number
  readonly steps: number
  readonly finalLoss: number
}

/**
 * One full training step of the reference model — forward, backward, global-norm clipping and
 * AdamW — timed on the given kernels; the median after `warmup` untimed steps.
 */
export const timeReferenceStep = (kernels: KernelsShape, backend: string, steps: number, warmup: number): StepTiming => {
  const model = makeLlama(referenceModel)
  const params = model.init(0)
  const grads = zerosFor(model.params)
  const rule = adamw({ lr: 3e-3, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 })
  const state = rule.init(params)
  const n = referenceBatch * referenceModel.seqLen
  const ids = Int32Array.from({ length: n }, (_, i) => bits32(1, 0, i) % referenceModel.vocabSize)
  const targets = Int32Array.from({ length: n }, (_, i) => bits32(1, 1, i) % referenceModel.vocabSize)
  const total: Array<number> = []
  const forwardBackward: Array<number> = []
  const update: Array<number> = []
  let loss = 0
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now()
    loss = model.lossAndGrad(kernels, params, ids, targets, referenceBatch, 1 / n, grads) / n
    const t1 = performance.now()
    clipGradNorm(kernels, grads, 1)
    rule.update(kernels, params, grads, 3e-3, state, model.params)
    const t2 = performance.now()
    if (i >= warmup) {
      total.push(t2 - t0)
      forwardBackward.push(t1 - t0)
      update.push(t2 - t1)
    }
  }
  const ms = median(total)
  return {
    backend, msPerStep: ms, msForwardBackward: median(forwardBackward), msClipAndUpdate: median(update),
    tokensPerSec: n / (ms / 1000), steps, finalLoss: loss
  }
}

/** The reference step on the cpu backend and on each gpu.js mode that actually runs (once per mode). */
export const runStepBench = (options: { readonly modes: ReadonlyArray<GpujsMode>; readonly steps: number; readonly warmup: number }) =>
  Effect.gen(function*() {
    const rows: Array<StepTiming> = [timeReferenceStep(makeCpuKernels(), "cpu", options.steps, options.warmup)]
    const seen = new Set<string>()
    for (const mode of options.modes) {
      const row = yield* Effect.scoped(Effect.gen(function*() {
        const gpu = yield* makeGpujsKernels(mode)
        if (seen.has(gpu.mode)) return undefined
        seen.add(gpu.mode)
        return timeReferenceStep(gpu.kernels, `gpujs:${gpu.mode}`, Math.max(2, Math.ceil(options.steps / 5)), 1)
      })).pipe(Effect.orElseSucceed(() => undefined))
      if (row !== undefined) rows.push(row)
    }
    return rows
  })
