import { Effect } from "effect"
import { makeCpuKernels } from "../kernels/cpu/index.ts"
import { type Device, type GpujsMode, makeGpujsKernels, type Traffic } from "../kernels/gpujs/index.ts"
import type { KernelsShape } from "../kernels/KernelsShape.ts"
import { hostStorage, moveIntoStorage, type TensorStorage } from "../kernels/TensorStorage.ts"
import { zerosFor } from "../model/init.ts"
import { makeLlama } from "../model/llama.ts"
import type { LlamaConfig } from "../model/model.ts"
import { adamw } from "../optim/adamw.ts"
import { clipGradNorm } from "../optim/clip.ts"
import type { NamedTensors } from "../tensor/namedTensors.ts"
import type { OnProgress } from "../tensor/progress.ts"
import { benchAdamW, benchTokens } from "./peerStep.ts"
import { type ModelSize, modelSizes } from "./sizes.ts"
import { median, timeSync } from "./timing.ts"

/** The reference model. */
export const referenceModel: LlamaConfig = {
  vocabSize: 256,
  dim: 64,
  layers: 2,
  heads: 4,
  ffnDim: 176,
  seqLen: 64,
  normEps: 1e-5,
  ropeTheta: 10000
}
export const referenceBatch = 16

export interface StepTiming {
  readonly backend: string
  /** Median of the timed steps. */
  readonly msPerStep: number
  readonly msForwardBackward: number
  readonly msClipAndUpdate: number
  readonly tokensPerSec: number
  readonly steps: number
  readonly finalLoss: number
  /**
   * gpujs only: what one step moves across the gpu.js boundary (see `Traffic`), counted over the
   * timed steps. A step issues the same calls every time, so every timed step counts the same.
   */
  readonly trafficPerStep: Traffic | undefined
}

/** The reference model changed to the given size. */
export const benchModel = (size: ModelSize): LlamaConfig => ({ ...referenceModel, ...modelSizes[size] })

/** One training step of a model, split where the profile and the timings split it. */
export interface ReferenceStep {
  /** Forward and backward: the loss of the batch, its gradients written into the step's buffers. */
  readonly forwardBackward: (kernels: KernelsShape) => number
  /** Global-norm clipping of the gradients, then AdamW on the parameters. */
  readonly clipAndUpdate: (kernels: KernelsShape) => void
  /** Tokens in the batch. */
  readonly tokens: number
  /** The parameters and the buffers their gradients are written into, by name. */
  readonly params: NamedTensors
  readonly grads: NamedTensors
}

/**
 * The model initialised from seed 0, with its gradients, AdamW state and a fixed batch of
 * `referenceBatch` rows of pseudo-random tokens.
 */
export const prepareReferenceStep = (config: LlamaConfig, storage: TensorStorage = hostStorage): ReferenceStep => {
  const model = makeLlama(config)
  const params = model.init(0)
  const grads = zerosFor(model.params)
  const { beta1, beta2, eps, lr, weightDecay } = benchAdamW
  const rule = adamw({ lr, betas: [beta1, beta2], eps, weightDecay })
  const state = rule.init(params)
  // Where a training run keeps them: in the storage of the kernels that will run the step.
  for (const tensors of [params, grads, state.tensors]) moveIntoStorage(storage, tensors)
  const n = referenceBatch * config.seqLen
  const { ids, targets } = benchTokens(config, referenceBatch)
  return {
    forwardBackward: (kernels) => model.lossAndGrad(kernels, params, ids, targets, referenceBatch, 1 / n, grads) / n,
    clipAndUpdate: (kernels) => {
      clipGradNorm(kernels, grads, 1)
      rule.update(kernels, params, grads, lr, state, model.params)
    },
    tokens: n,
    params,
    grads
  }
}

/**
 * One full training step of the model — forward, backward, global-norm clipping and AdamW — timed
 * on the given kernels; the median after `warmup` untimed steps. With `device` (the gpujs backend's),
 * the timed steps also count their traffic; counting costs a check per device call, nothing more.
 */
export const timeReferenceStep = (
  kernels: KernelsShape,
  backend: string,
  steps: number,
  warmup: number,
  config: LlamaConfig,
  device?: Device
): StepTiming => {
  const step = prepareReferenceStep(config, kernels.storage)
  const forwardBackward: Array<number> = []
  const update: Array<number> = []
  const traffic: Array<Traffic> = []
  let loss = 0
  const latency = timeSync((phase) => {
    if (phase === "run") device?.startCounting()
    const t0 = performance.now()
    loss = step.forwardBackward(kernels)
    const t1 = performance.now()
    step.clipAndUpdate(kernels)
    // The update's kernels may still be queued on the device (its results stay there): wait for
    // them, so that the step is charged its own work and not the next step's first readback.
    device?.sync()
    const t2 = performance.now()
    if (phase === "run") {
      forwardBackward.push(t1 - t0)
      update.push(t2 - t1)
      if (device !== undefined) traffic.push(device.stopCounting())
    }
    // The step's own clock, so that the parts and the whole are read off the same two instants.
    return { overriddenDuration: t2 - t0 }
  }, { iterations: steps, warmupIterations: warmup })
  const ms = latency.p50
  return {
    backend,
    msPerStep: ms,
    msForwardBackward: median(forwardBackward),
    msClipAndUpdate: median(update),
    tokensPerSec: step.tokens / (ms / 1000),
    steps,
    finalLoss: loss,
    trafficPerStep: traffic.at(-1)
  }
}

export interface StepBenchOptions {
  /** Whether to time the cpu backend too (default true). */
  readonly cpu?: boolean
  readonly modes: ReadonlyArray<GpujsMode>
  readonly steps: number
  readonly warmup: number
  /**
   * Timed and untimed steps on each gpu.js mode (default: a fifth of `steps`, at least 2, after one
   * warm-up step, which compiles the kernels: gpu.js modes are slow and compared at a glance).
   */
  readonly gpujsSteps?: number
  readonly gpujsWarmup?: number
  /** The model (default: the reference model). */
  readonly size?: ModelSize
  /** Told before each backend is timed (never inside a timing). */
  readonly onProgress?: OnProgress | undefined
}

/** The step on the cpu backend and on each gpu.js mode that actually runs (once per mode). */
export const runStepBench = (options: StepBenchOptions) =>
  Effect.gen(function*() {
    const config = benchModel(options.size ?? "default")
    const withCpu = options.cpu ?? true
    const first = withCpu ? 1 : 0
    const backends = first + options.modes.length
    const report = (done: number, detail?: string) =>
      options.onProgress?.({ task: "bench step", done, total: backends, unit: "items", detail })
    const rows: Array<StepTiming> = []
    if (withCpu) {
      report(0, "cpu")
      rows.push(timeReferenceStep(makeCpuKernels(), "cpu", options.steps, options.warmup, config))
    }
    const seen = new Set<string>()
    for (const [i, mode] of options.modes.entries()) {
      report(first + i, `gpujs ${mode}`)
      const row = yield* Effect.scoped(Effect.gen(function*() {
        const gpu = yield* makeGpujsKernels(mode)
        if (seen.has(gpu.mode)) return undefined
        seen.add(gpu.mode)
        return timeReferenceStep(
          gpu.kernels,
          `gpujs:${gpu.mode}`,
          options.gpujsSteps ?? Math.max(2, Math.ceil(options.steps / 5)),
          options.gpujsWarmup ?? 1,
          config,
          gpu.device
        )
      })).pipe(Effect.orElseSucceed(() => undefined))
      if (row !== undefined) rows.push(row)
    }
    report(backends)
    return rows
  })
