import { Console, Context, Effect, Layer, Stream } from "effect"
import { CheckpointStore } from "../../checkpoint/CheckpointStore.ts"
import { Kernels } from "../../kernels/Kernels.ts"
import { AcceptedPlan } from "../../resume/plannedStart.ts"
import { renderPlan } from "../../resume/renderPlan.ts"
import { resolveConfig } from "../../resume/resumeConfig.ts"
import { alreadyComplete, completedStep, resolveStart, type StartRequest } from "../../resume/start.ts"
import { runLayer } from "../../train/layers.ts"
import { MetricsSink } from "../../train/MetricsSink.ts"
import { RunLockError } from "../../train/RunLock.ts"
import { Trainer } from "../../train/Trainer.ts"
import { duringSetup, duringSetupExcept } from "../exitCodes.ts"
import { makeProgress } from "../progress.ts"
import { checkedEstimate, withMemoryBudget } from "../runSize.ts"
import { stopOnSignals } from "../signals.ts"

export interface TrainArgs extends StartRequest {
  readonly config: string | undefined
  readonly set: ReadonlyArray<string>
  /** `--max-memory`: the memory the run may use (default: the machine's). */
  readonly maxMemory?: string | undefined
  /** Print every tensor of a rejected plan (`--verbose`). */
  readonly verbose?: boolean | undefined
  /** Stop after this many updates (saving a checkpoint), as if interrupted there. */
  readonly until?: number | undefined
}

/**
 * `continuum train`: check the run fits in memory, plan the start, build the run, and train with
 * progress on stderr.
 */
export const train = (args: TrainArgs) =>
  Effect.scoped(Effect.gen(function*() {
    const setup = { verbose: args.verbose === true }
    const { config, start } = yield* duringSetup(
      Effect.all({
        config: Effect.map(resolveConfig(args), (resolved) => resolved.config),
        start: resolveStart(args)
      }),
      setup
    )
    yield* duringSetup(checkedEstimate(config), setup)
    if (args.resume === "auto" && args.from === undefined) {
      const done = yield* duringSetup(completedStep(config))
      if (done !== undefined) {
        yield* Console.log(alreadyComplete(config, done))
        return
      }
    }
    // The run directory's lock failing to be taken for a reason other than a holder (permissions,
    // a full disk) is an environment failure, not a rejected configuration.
    const context = yield* duringSetupExcept(
      Layer.build(runLayer(config, start).pipe(Layer.provideMerge(stopOnSignals({ until: args.until })))),
      (error): error is RunLockError => error instanceof RunLockError,
      setup
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
  })).pipe(withMemoryBudget(args.maxMemory))
