import { Command } from "effect/cli"
import { whenRun } from "../lazy.ts"
import { runArgs, runFlags } from "../runFlags.ts"

export const planCommand = Command.make(
  "plan",
  runFlags,
  (flags) => whenRun(() => import("../handlers/plan.ts"), (handler) => handler.plan(runArgs(flags)))
).pipe(
  Command.withDescription("Print the resume plan for the same arguments as train; runs nothing (exit 2 when rejected)")
)
