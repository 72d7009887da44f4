import { Console, Context, Effect, Layer } from "effect"
import { loadRunConfig } from "../../config/loadConfig.ts"
import { RunSettings } from "../../config/RunSettings.ts"
import { AcceptedPlan } from "../../resume/plannedStart.ts"
import { renderPlan } from "../../resume/renderPlan.ts"
import { resolveStart } from "../../resume/start.ts"
import { runStartLayer } from "../../train/layers.ts"
import { duringSetup } from "../exitCodes.ts"
import type { TrainArgs } from "./train.ts"

/** `continuum plan`: the same planning as `train`, printed; nothing runs and nothing is written. */
export const plan = (args: TrainArgs) =>
  Effect.scoped(Effect.gen(function*() {
    const { config, start } = yield* duringSetup(Effect.all({
      config: loadRunConfig(args.config, args.set),
      start: resolveStart(args)
    }))
    const context = yield* duringSetup(Layer.build(runStartLayer(config, start)))
    const plan = Context.get(context, AcceptedPlan)
    const settings = Context.get(context, RunSettings)
    yield* Console.log(
      plan !== undefined
        ? renderPlan(plan)
        : `fresh start: ${settings.steps} steps from step 0 (no checkpoint is loaded)`
    )
  }))
