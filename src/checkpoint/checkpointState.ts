import { Schema } from "effect"
import { NonNegativeInt as Count } from "../config/primitives.ts"
import { ResolvedSchedule } from "../optim/schedule.ts"

/** Data position and geometry: the cursor counts samples, never per-rank positions. */
export const DataState = Schema.Struct({
  cursor: Count,
  fingerprint: Schema.String,
  source: Schema.String,
  seqLen: Count,
  seed: Count,
  geometry: Schema.Struct({ global: Count, micro: Count, dp: Count })
})
export type DataState = typeof DataState.Type

export const OptimizerStateInfo = Schema.Struct({
  kind: Schema.Literals(["adamw", "sgd"]),
  /** Updates the moments have seen (drives bias correction); equals the run step unless reset. */
  step: Count,
  lr: Schema.Finite,
  betas: Schema.Tuple([Schema.Finite, Schema.Finite]),
  eps: Schema.Finite,
  weightDecay: Schema.Finite,
  momentum: Schema.Finite,
  nesterov: Schema.Boolean
})
export type OptimizerStateInfo = typeof OptimizerStateInfo.Type

/**
 * The non-tensor state of a checkpoint, stored in `manifest.state`. Together with the model and
 * optimizer tensors it is everything a run needs to continue bit for bit: the RNG is counter
 * based, so its only state is the seed and the sample counter (= the data cursor).
 */
export const CheckpointState = Schema.Struct({
  step: Count,
  schedule: ResolvedSchedule,
  data: DataState,
  optimizer: OptimizerStateInfo,
  rng: Schema.Struct({ seed: Count, sampleCounter: Count }),
  tokensSeen: Count,
  samplesSeen: Count
})
export type CheckpointState = typeof CheckpointState.Type
