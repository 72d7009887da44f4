/** What a run emits, one element per event, in order. Code composes runs over these. */
export interface StepEvent {
  readonly _tag: "Step"
  /** Completed updates so far; this event reports update number `step`, which used `lr`. */
  readonly step: number
  readonly loss: number
  readonly lr: number
  readonly gradNorm: number
  /** Tokens consumed by all updates so far. */
  readonly tokens: number
  readonly tokensPerSec: number
  /** P, the ranks that computed the update. */
  readonly ranks: number
}

export interface EvalEvent {
  readonly _tag: "Eval"
  /** Validation loss after `step` updates (step 0 is the initial model). */
  readonly step: number
  readonly valLoss: number
}

export interface CheckpointEvent {
  readonly _tag: "Checkpoint"
  readonly step: number
  readonly path: string
}

export type TrainEvent = StepEvent | EvalEvent | CheckpointEvent
