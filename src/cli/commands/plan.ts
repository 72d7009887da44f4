import { Console, Context, Effect, Layer } from "effect"
import { Command } from "effect/cli"
import { loadRunConfig } from "../../config/loadConfig.ts"
import { RunSettings } from "../../config/RunSettings.ts"
import { renderPlan } from "../../resume/renderPlan.ts"
import { Start } from "../../config/Start.ts"
import { runStartLayer } from "../../train/layers.ts"
import { SetupFailed } from "../exitCodes.ts"
import { runArgs, runFlags } from "../runFlags.ts"
import { resolveStart } from "../../resume/start.ts"
import type { TrainArgs } from "./train.ts"

/** `continuum plan`: the same planning as `train`, printed; nothing runs and nothing is written. */
export const plan = (args: TrainArgs) =>
  Effect.scoped(Effect.gen(function*() {
    const { config, start } = yield* Effect.all({
      config: loadRunConfig(args.config, args.set),
      start: resolveStart(args)
    }).pipe(Effect.mapError((error) => new SetupFailed({ error })))
    const context = yield* Layer.build(runStartLayer(config, start)).pipe(
      Effect.mapError((error) => new SetupFailed({ error }))
    )
    const started = Context.get(context, Start)
    const settings = Context.get(context, RunSettings)
    yield* Console.log(
      started.plan !== undefined
        ? renderPlan(started.plan)
        : `fresh start: ${settings.steps} steps from step 0 (no checkpoint is loaded)`
    )
  }))

export const planCommand = Command.make("plan", runFlags, (flags) => plan(runArgs(flags))).pipe(
  Command.withDescription("Print the resume plan for the same arguments as train; runs nothing (exit 2 when rejected)")
)
