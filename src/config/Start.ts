import { Context, Layer } from "effect"
import type { NamedTensors } from "../tensor/namedTensors.ts"
import type { Tensor } from "../tensor/tensor.ts"
import type { ResolvedSchedule } from "./scheduleSpec.ts"

/** The checkpoint a run was resumed from, and the policy it was resumed with. */
export interface Lineage {
  readonly runId: string
  readonly step: number
  readonly policy: string
}

export type OptimizerKind = "sgd" | "adamw"

/**
 * Everything an optimizer carries between steps. `step` counts completed updates (0 before the
 * first); `tensors` holds per-parameter buffers named like PyTorch's state entries:
 * `exp_avg.<param>`, `exp_avg_sq.<param>` (AdamW), `momentum_buffer.<param>` (SGD).
 * An update mutates the tensors in place and increments `step`.
 */
export interface OptimizerState {
  readonly kind: OptimizerKind
  step: number
  readonly tensors: NamedTensors
}

/** How a resumed run was resumed: the line marking the resume in its metrics. */
export interface ResumeMarker {
  readonly policy: string
  /** What the resume did to the learning-rate schedule (keep, extend, rebuild, restart…). */
  readonly scheduleAction: string
}

/**
 * Where a run starts: step, data cursor and whatever state a resume carries over. A fresh run
 * starts at zero with nothing loaded; the component layers initialise what is absent.
 */
export interface StartShape {
  readonly runId: string
  readonly step: number
  readonly cursor: number
  readonly tokensSeen: number
  readonly parent: Lineage | undefined
  /** Model tensors to load (all, or the subset a transfer selected); the rest are initialised. */
  readonly modelTensors: Readonly<Record<string, Tensor>> | undefined
  readonly optimizer: OptimizerState | undefined
  readonly schedule: ResolvedSchedule | undefined
  /** Present when the run resumes from a checkpoint or weights file. */
  readonly resumed: ResumeMarker | undefined
}

export const newRunId = (): string =>
  `${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "")}-${Math.random().toString(36).slice(2, 8)}`

export class Start extends Context.Service<Start, StartShape>()("continuum/Start") {
  /** A fresh run from step 0. */
  static readonly fresh: Layer.Layer<Start> = Layer.sync(Start, () => ({
    runId: newRunId(),
    step: 0,
    cursor: 0,
    tokensSeen: 0,
    parent: undefined,
    modelTensors: undefined,
    optimizer: undefined,
    schedule: undefined,
    resumed: undefined
  }))
}
