import { Argument, Command, Flag } from "effect/cli"
import { whenRun } from "../lazy.ts"

export const reportCommand = Command.make(
  "report",
  {
    runDirs: Argument.String("RUN_DIR").pipe(
      Argument.withDescription("Run directories (each holding metrics.jsonl)"),
      Argument.variadic({ min: 1 })
    ),
    out: Flag.String("out").pipe(
      Flag.withDescription("Output directory (default: <first RUN_DIR>/report)"),
      Flag.optional
    ),
    title: Flag.String("title").pipe(Flag.withDescription("Report title"), Flag.optional)
  },
  (args) => whenRun(() => import("../handlers/report.ts"), (handler) => handler.report(args))
).pipe(Command.withDescription("Draw the loss and LR charts of one or more runs into report.html, loss.svg and lr.svg"))
