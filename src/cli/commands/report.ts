import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as path from "node:path"
import { loadRunSeries } from "../../report/series.ts"
import { writeReport } from "../../report/writeReport.ts"

/** `continuum report RUN_DIR...`: loss and LR charts of any runs, resumes marked, in one HTML page. */
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
  (args) =>
    Effect.gen(function*() {
      const runs = yield* Effect.forEach(args.runDirs, (dir) => loadRunSeries(dir))
      const outDir = Option.getOrElse(args.out, () => path.join(args.runDirs[0]!, "report"))
      const title = Option.getOrElse(args.title, () => `continuum report: ${runs.map((r) => r.name).join(", ")}`)
      const written = yield* writeReport(outDir, runs, { title })
      yield* Console.log(`report: ${written.html} (charts: ${written.svg.join(", ")})`)
    })
).pipe(Command.withDescription("Draw the loss and LR charts of one or more runs into report.html, loss.svg and lr.svg"))
