import { Command, Flag } from "effect/cli"
import * as Option from "effect/Option"
import { DEFAULT_STEPS, QUICK_STEPS } from "../../demo/stepCounts.ts"
import { whenRun } from "../lazy.ts"

export const demoCommand = Command.make(
  "demo",
  {
    out: Flag.String("out").pipe(
      Flag.withDescription("Directory for the variants' run directories and the report"),
      Flag.withDefault("runs/demo")
    ),
    steps: Flag.Int("steps").pipe(
      Flag.withDescription(`The original total steps N (default ${DEFAULT_STEPS}; ${QUICK_STEPS} with --quick)`),
      Flag.optional
    ),
    quick: Flag.Boolean("quick").pipe(
      Flag.withDescription("A tiny model and few steps: the whole demo in seconds"),
      Flag.withDefault(false)
    )
  },
  (flags) =>
    whenRun(
      () => import("../handlers/demo.ts"),
      (handler) => handler.demo({ out: flags.out, steps: Option.getOrUndefined(flags.steps), quick: flags.quick })
    )
).pipe(
  Command.withDescription(
    "Reproduce torchtitan's changed-steps resume failure and continuum's fix on Moby-Dick: " +
      "baseline, exact resume, rebuilt vs extended schedule, the planner's refusals, and a report"
  )
)
