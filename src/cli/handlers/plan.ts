import { Console, Context, Effect, Layer } from "effect"
import { describeBytes } from "../../config/boundedRead.ts"
import { describeEstimate, MemoryBudget } from "../../config/MemoryBudget.ts"
import { RunSettings } from "../../config/RunSettings.ts"
import { AcceptedPlan } from "../../resume/plannedStart.ts"
import { renderPlan } from "../../resume/renderPlan.ts"
import { resolveConfig } from "../../resume/resumeConfig.ts"
import { alreadyComplete, completedStep, resolveStart } from "../../resume/start.ts"
import { plannedOnlyLayer } from "../../train/layers.ts"
import { duringSetup } from "../exitCodes.ts"
import { checkedEstimate, withMemoryBudget } from "../runSize.ts"
import type { TrainArgs } from "./train.ts"

/**
 * `continuum plan`: the same checks and planning as `train`, printed with the memory estimate;
 * nothing runs and nothing is written.
 */
export const plan = (args: TrainArgs) =>
  Effect.scoped(Effect.gen(function*() {
    const setup = { verbose: args.verbose === true }
    const { resolved, start } = yield* duringSetup(
      Effect.all({
        resolved: resolveConfig(args),
        start: resolveStart(args)
      }),
      setup
    )
    const estimate = yield* duringSetup(checkedEstimate(resolved.config), setup)
    const budget = yield* MemoryBudget
    const base = resolved.base === undefined
      ? "configuration: the reference, with --config and --set on top"
      : `configuration: the checkpoint's own (${resolved.base}), with --config and --set on top`
    yield* Console.log(`memory: ${describeEstimate(estimate)} of ${describeBytes(budget.bytes)}`)
    // Like train: `auto` on a run that already reached its total has nothing to plan, and is no error.
    if (args.resume === "auto" && args.from === undefined) {
      const done = yield* duringSetup(completedStep(resolved.config))
      if (done !== undefined) {
        yield* Console.log(`${base}\n${alreadyComplete(resolved.config, done)}`)
        return
      }
    }
    const context = yield* duringSetup(Layer.build(plannedOnlyLayer(resolved.config, start)), setup)
    const plan = Context.get(context, AcceptedPlan)
    const settings = Context.get(context, RunSettings)
    yield* Console.log(
      `${base}\n` + (
        plan !== undefined
          ? renderPlan(plan)
          : `fresh start: ${settings.steps} steps from step 0 (no checkpoint is loaded)`
      )
    )
  })).pipe(withMemoryBudget(args.maxMemory))
