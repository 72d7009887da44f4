import { Context, Layer } from "effect"
import type { Lineage } from "../checkpoint/manifest.ts"
import type { ResolvedSchedule } from "../optim/schedule.ts"
import type { OptimizerState } from "../optim/optimizer.ts"
import type { ResumePlan } from "../resume/plan.ts"
import type { Tensor } from "../tensor/tensor.ts"

/**
 * Where a run starts: step, data cursor and whatever state a resume plan carries over. A fresh run
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
  readonly plan: ResumePlan | undefined
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
    plan: undefined
  }))
}
