import { Effect, Schema, SchemaTransformation } from "effect"
import {
  headsSplitDim,
  microDividesGlobal,
  ranksWithinMicroBatches,
  scheduleFitsRun,
  tokenCountsStayExact
} from "./consistency.ts"
import { ObjectLocationString } from "./objectLocation.ts"
import { NonNegativeFinite, NonNegativeInt, PositiveFinite, PositiveInt, ProperFraction, Size } from "./primitives.ts"
import { ScheduleConfig } from "./scheduleConfig.ts"

/**
 * The whole configuration of a run, as Schema data. Every field has a default equal to the
 * reference configuration (docs/design.md), so `{}` decodes to the reference run. The dotted paths of
 * the fields are part of the CLI contract (`--set model.dim=128`). The rules that relate fields
 * (`consistency.ts`) are checks of the sections that hold them, so a decoded `RunConfig` is valid
 * as a whole.
 */

const withDefault = <S extends Schema.Top>(value: S["Encoded"]) =>
  Schema.withDecodingDefaultKey<S>(Effect.succeed(value))

export const ModelConfig = Schema.Struct({
  kind: Schema.Literals(["llama", "mlp"]).pipe(withDefault("llama")),
  vocabSize: Size.pipe(withDefault(256)),
  dim: Size.pipe(withDefault(64)),
  layers: Size.pipe(withDefault(2)),
  heads: Size.pipe(withDefault(4)),
  /** Hidden width of the feed-forward block (llama) or of the single hidden layer (mlp). */
  ffnDim: Size.pipe(withDefault(176)),
  seqLen: Size.pipe(withDefault(64)),
  normEps: PositiveFinite.pipe(withDefault(1e-5)),
  ropeTheta: PositiveFinite.pipe(withDefault(10000))
}).check(headsSplitDim)
export type ModelConfig = typeof ModelConfig.Type

export const DataConfig = Schema.Struct({
  /** "moby-dick" (embedded), a text file, a directory of text files, or a uint16 token file (.bin). */
  source: Schema.NonEmptyString.pipe(withDefault("moby-dick")),
  valFraction: ProperFraction.pipe(withDefault(0.1))
})
export type DataConfig = typeof DataConfig.Type

/** The largest micro-batch the default picks: it bounds activation memory. */
export const MAX_DEFAULT_MICRO = 16

/** The fewest micro-batches a step has by default, so that ranks have work to share. */
export const MIN_DEFAULT_MICRO_BATCHES = 4

/**
 * `μ` when `batch.micro` is not given: the largest divisor of B not above 16 that leaves at least 4
 * micro-batches (μ = 4 for the reference B = 16), so that up to 4 ranks share every step. It depends
 * on B alone, never on P or on the machine: `batch.dp = auto` may resolve to a different number of
 * ranks on another machine, and the trajectory, which depends on (B, μ), must not move with it.
 */
export const defaultMicroBatch = (global: number): number => {
  const largest = Math.min(MAX_DEFAULT_MICRO, Math.floor(global / MIN_DEFAULT_MICRO_BATCHES))
  for (let micro = largest; micro > 1; micro--) {
    if (global % micro === 0) return micro
  }
  return 1
}

/** `batch.dp`: a number of ranks, or `auto` (one per core, at most one per micro-batch). */
export const Ranks = Schema.Union([Size, Schema.Literal("auto")])

const BatchFields = Schema.Struct({
  /** Samples per optimizer step (B). */
  global: Size.pipe(withDefault(16)),
  /** Samples per micro-batch (μ, a divisor of B). Default: `defaultMicroBatch`. */
  micro: Schema.optionalKey(Size),
  /** Data-parallel ranks (P), worker threads that share each step's micro-batches. */
  dp: Ranks.pipe(withDefault("auto"))
})

const BatchFieldsDecoded = Schema.Struct({ global: Size, micro: Size, dp: Ranks })

export const BatchConfig = BatchFields.pipe(
  Schema.decodeTo(
    BatchFieldsDecoded.check(microDividesGlobal, ranksWithinMicroBatches),
    SchemaTransformation.transform({
      decode: (batch) => ({
        global: batch.global,
        micro: batch.micro ?? defaultMicroBatch(batch.global),
        dp: batch.dp
      }),
      encode: (batch) => batch
    })
  )
)
export type BatchConfig = typeof BatchConfig.Type

export const OptimizerConfig = Schema.Struct({
  kind: Schema.Literals(["adamw", "sgd"]).pipe(withDefault("adamw")),
  /** Peak learning rate; the schedule scales it. */
  lr: PositiveFinite.pipe(withDefault(3e-3)),
  betas: Schema.Tuple([ProperFraction, ProperFraction]).pipe(withDefault([0.9, 0.95])),
  eps: PositiveFinite.pipe(withDefault(1e-8)),
  /** Decoupled weight decay, applied to matrices only. */
  weightDecay: NonNegativeFinite.pipe(withDefault(0.1)),
  momentum: ProperFraction.pipe(withDefault(0.9)),
  nesterov: Schema.Boolean.pipe(withDefault(false)),
  /** Global-norm gradient clipping threshold; 0 disables clipping. */
  clipNorm: NonNegativeFinite.pipe(withDefault(1.0))
})
export type OptimizerConfig = typeof OptimizerConfig.Type

export const EvalConfig = Schema.Struct({
  /** Evaluate every this many steps (and at the end); 0 disables periodic evaluation. */
  every: NonNegativeInt.pipe(withDefault(100)),
  /** Number of validation batches of B windows each. */
  batches: Size.pipe(withDefault(20))
})
export type EvalConfig = typeof EvalConfig.Type

export const CheckpointConfig = Schema.Struct({
  /** Save every this many steps (and at the end); 0 saves only at the end. */
  every: NonNegativeInt.pipe(withDefault(100)),
  keepLatest: PositiveInt.pipe(withDefault(3)),
  /** Also keep every n-th step forever; 0 keeps none beyond the latest. */
  keepEvery: NonNegativeInt.pipe(withDefault(0)),
  async: Schema.Boolean.pipe(withDefault(true)),
  /**
   * Where checkpoints go: `s3://bucket/prefix` (an S3-compatible object store) instead of
   * `<runDir>/checkpoints`. Metrics and the run lock stay in the run directory.
   */
  location: Schema.optionalKey(ObjectLocationString)
})
export type CheckpointConfig = typeof CheckpointConfig.Type

export const KernelsConfig = Schema.Struct({
  backend: Schema.Literals(["cpu", "gpujs"]).pipe(withDefault("cpu")),
  /** gpu.js mode when backend is gpujs; "gpu" lets gpu.js pick the best available. */
  mode: Schema.Literals(["gpu", "headlessgl", "webgpu", "webasm", "cpu"]).pipe(withDefault("gpu"))
})
export type KernelsConfig = typeof KernelsConfig.Type

export const RunConfig = Schema.Struct({
  runDir: Schema.NonEmptyString.pipe(withDefault("runs/default")),
  seed: NonNegativeInt.pipe(withDefault(1234)),
  /** Total optimizer steps N. */
  steps: Size.pipe(withDefault(600)),
  model: ModelConfig.pipe(withDefault({})),
  data: DataConfig.pipe(withDefault({})),
  batch: BatchConfig.pipe(withDefault({})),
  optimizer: OptimizerConfig.pipe(withDefault({})),
  schedule: ScheduleConfig.pipe(withDefault({})),
  eval: EvalConfig.pipe(withDefault({})),
  checkpoint: CheckpointConfig.pipe(withDefault({})),
  kernels: KernelsConfig.pipe(withDefault({}))
}).check(scheduleFitsRun, tokenCountsStayExact)
export type RunConfig = typeof RunConfig.Type
export type RunConfigEncoded = typeof RunConfig.Encoded
