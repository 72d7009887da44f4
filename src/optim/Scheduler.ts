import { Context, Effect, Layer } from "effect"
import { RunSettings } from "../config/RunSettings.ts"
import { Start } from "../config/Start.ts"
import { lr, type ResolvedSchedule, resolveSchedule } from "./schedule.ts"

export interface SchedulerShape {
  /** The resolved schedule; the one a checkpoint records. */
  readonly schedule: ResolvedSchedule
  /** Learning rate of update number t + 1 (t = completed updates). */
  readonly lr: (t: number) => number
}

const fromSchedule = (schedule: ResolvedSchedule): SchedulerShape => ({ schedule, lr: (t) => lr(schedule, t) })

/** The run's learning-rate schedule: resolved from the configuration, or reconciled by a resume plan. */
export class Scheduler extends Context.Service<Scheduler, SchedulerShape>()("continuum/Scheduler") {
  static readonly layer = Layer.effect(
    Scheduler,
    Effect.gen(function*() {
      const config = yield* RunSettings
      const start = yield* Start
      return fromSchedule(start.schedule ?? resolveSchedule(config.schedule, config.optimizer.lr, config.steps))
    })
  )

  /** A given schedule, e.g. to swap the schedule of a run composed in code. */
  static readonly layerSchedule = (schedule: ResolvedSchedule): Layer.Layer<Scheduler> =>
    Layer.succeed(Scheduler, fromSchedule(schedule))
}
