import { Console, Context, Effect, Layer, Stream } from "effect"
import { CheckpointStore } from "../../checkpoint/CheckpointStore.ts"
import { loadRunConfig } from "../../config/loadConfig.ts"
import { Kernels } from "../../kernels/Kernels.ts"
import { AcceptedPlan } from "../../resume/plannedStart.ts"
import { renderPlan } from "../../resume/renderPlan.ts"
import { completedStep, resolveStart, type StartRequest } from "../../resume/start.ts"
import { runLayer } from "../../train/layers.ts"
import { MetricsSink } from "../../train/MetricsSink.ts"
import { Trainer } from "../../train/Trainer.ts"
import { duringSetup } from "../exitCodes.ts"
import { makeProgress } from "../progress.ts"
import { stopOnSignals } from "../signals.ts"

export interface TrainArgs extends StartRequest {
  readonly config: string | undefined
  readonly set: ReadonlyArray<string>
  /** Stop after this many updates (saving a checkpoint), as if interrupted there. */
  readonly until?: number | undefined
}

/** `continuum train`: plan the start, build the run, and train with progress on stderr. */
export const train = (args: TrainArgs) =>
  Effect.scoped(Effect.gen(function*() {
    const { config, start } = yield* duringSetup(Effect.all({
      config: loadRunConfig(args.config, args.set),
      start: resolveStart(args)
    }))
    if (args.resume === "auto" && args.from === undefined) {
      const done = yield* duringSetup(completedStep(config))
      if (done !== undefined) {
        yield* Console.log(
          `run already complete: ${config.runDir} has a valid checkpoint at step ${done} (steps = ${config.steps})`
        )
        return
      }
    }
    const context = yield* duringSetup(
      Layer.build(runLayer(config, start).pipe(Layer.provideMerge(stopOnSignals({ until: args.until }))))
    )
    const trainer = Context.get(context, Trainer)
    const plan = Context.get(context, AcceptedPlan)
    const kernels = Context.get(context, Kernels)
    yield* Console.error(`kernels: ${kernels.backend} (mode ${kernels.mode})`)
    if (plan !== undefined) yield* Console.error(renderPlan(plan))
    const progress = makeProgress(config.steps)
    let last: { step: number; valLoss?: number } = { step: 0 }
    yield* trainer.events.pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          progress.onEvent(event)
          if (event._tag === "Step") last = { ...last, step: event.step }
          if (event._tag === "Eval") last = { step: event.step, valLoss: event.valLoss }
        })
      )
    )
    progress.finish()
    yield* Console.log(
      `trained to step ${last.step}${
        last.valLoss !== undefined ? `, validation loss ${last.valLoss.toFixed(4)}` : ""
      }\n` +
        `metrics: ${Context.get(context, MetricsSink).location}\ncheckpoints: ${
          Context.get(context, CheckpointStore).location
        }`
    )
  }))
