/**
 * The training step the step benchmark's peers (TensorFlow.js, jax-js) run: the same model as
 * continuum's step (benchModel: embedding, per layer RMSNorm → RoPE attention with a causal mask →
 * residual, RMSNorm → SwiGLU MLP → residual; final RMSNorm, untied output head; mean
 * cross-entropy), the same batch (referenceBatch windows of the same tokens), global-norm clipping
 * at 1 and AdamW with continuum's hyper-parameters — starting from continuum's own initial
 * parameters, so the first step's loss can be compared with continuum's. The peers do the same
 * amount of work, not the same operations in the same order: their losses agree to rounding only.
 */
import { fillRopeTables } from "../kernels/ropeTables.ts"
import { llamaParams, makeLlama } from "../model/llama.ts"
import type { LlamaConfig } from "../model/model.ts"
import { bits32 } from "../tensor/rng.ts"
import { median } from "./timing.ts"

/** One parameter, in continuum's canonical order, weights `[out, in]`. */
export interface PeerParam {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  /** Whether AdamW decays it (matrices: yes; norm weights: no). */
  readonly decay: boolean
  readonly data: Float32Array
}

/** Everything a peer needs to build and run the step. */
export interface PeerStepInput {
  readonly config: LlamaConfig
  /** Windows per step (B). */
  readonly batch: number
  readonly params: ReadonlyArray<PeerParam>
  /** Token ids and next-token targets, `B·T` each, row-major `[B, T]`. */
  readonly ids: Int32Array
  readonly targets: Int32Array
  /** RoPE tables `[T, hd/2]` (continuum's: angle `pos·θ^(-2i/hd)`, rotating pairs `(2i, 2i+1)`). */
  readonly ropeCos: Float32Array
  readonly ropeSin: Float32Array
  readonly adamw: {
    readonly lr: number
    readonly beta1: number
    readonly beta2: number
    readonly eps: number
    readonly weightDecay: number
  }
  /** Global-norm clipping threshold. */
  readonly clipNorm: number
}

/** The hyper-parameters of continuum's timed step (step.ts). */
export const benchAdamW = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 } as const

/** The fixed batch of `batch` windows the step benchmark trains on (pseudo-random tokens). */
export const benchTokens = (config: LlamaConfig, batch: number): { ids: Int32Array; targets: Int32Array } => {
  const n = batch * config.seqLen
  return {
    ids: Int32Array.from({ length: n }, (_, i) => bits32(1, 0, i) % config.vocabSize),
    targets: Int32Array.from({ length: n }, (_, i) => bits32(1, 1, i) % config.vocabSize)
  }
}

/** The peers' input for `config` at `batch`: continuum's initial parameters (seed 0) and batch. */
export const peerStepInput = (config: LlamaConfig, batch: number): PeerStepInput => {
  const initial = makeLlama(config).init(0)
  const params = llamaParams(config).map((spec): PeerParam => {
    const tensor = initial.get(spec.name)
    if (tensor === undefined) throw new Error(`peerStepInput: no initial value for ${spec.name}`)
    return { name: spec.name, shape: spec.shape, decay: spec.decay, data: Float32Array.from(tensor.data) }
  })
  const hd = config.dim / config.heads
  const ropeCos = new Float32Array(config.seqLen * hd / 2)
  const ropeSin = new Float32Array(config.seqLen * hd / 2)
  fillRopeTables(ropeCos, ropeSin, config.seqLen, hd, config.ropeTheta)
  return { config, batch, params, ...benchTokens(config, batch), ropeCos, ropeSin, adamw: benchAdamW, clipNorm: 1 }
}

/** Timing of a peer's step. */
export interface PeerStepTiming {
  readonly peer: string
  /** Library version and how it runs, e.g. "jax-js, wasm device, whole step under jit". */
  readonly detail: string
  /** Median of the timed steps (each ends when its results are computed). */
  readonly msPerStep: number
  /** Median of continuum's cpu step, timed alternately with the peer's (same load on a shared machine). */
  readonly msContinuum: number
  /** The first step (warm-up included): compilation, where the library compiles. */
  readonly msFirstStep: number
  /** Loss of the first step, on continuum's initial parameters (comparable with continuum's). */
  readonly firstLoss: number
  /** Loss of the second step: after one clipped AdamW update (comparable with continuum's too). */
  readonly secondLoss: number
  readonly finalLoss: number
  readonly steps: number
}

/** A peer that loaded: `time` builds its step from the input and times it against `continuum`. */
export interface StepPeer {
  readonly name: string
  readonly detail: string
  time(input: PeerStepInput, steps: number, warmup: number, continuum: () => void): Promise<PeerStepTiming>
}

/**
 * Steps timed after `warmup` untimed ones; `step` runs one step and resolves to its loss once
 * computed. Each peer step is followed by one `continuum` step, timed too, so the two medians are
 * taken under the same load and their ratio survives a noisy neighbour.
 */
export const timePeerSteps = async (
  peer: { readonly name: string; readonly detail: string },
  step: () => Promise<number>,
  steps: number,
  warmup: number,
  continuum: () => void
): Promise<PeerStepTiming> => {
  const times: Array<number> = []
  const reference: Array<number> = []
  let firstLoss = Number.NaN
  let secondLoss = Number.NaN
  let finalLoss = Number.NaN
  let msFirstStep = Number.NaN
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now()
    const loss = await step()
    const t1 = performance.now()
    continuum()
    const t2 = performance.now()
    if (i === 0) {
      firstLoss = loss
      msFirstStep = t1 - t0
    }
    if (i === 1) secondLoss = loss
    if (i >= warmup) {
      times.push(t1 - t0)
      reference.push(t2 - t1)
    }
    finalLoss = loss
  }
  return {
    peer: peer.name,
    detail: peer.detail,
    msPerStep: median(times),
    msContinuum: median(reference),
    msFirstStep,
    firstLoss,
    secondLoss,
    finalLoss,
    steps
  }
}
