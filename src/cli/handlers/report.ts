import { Console, Effect, Option } from "effect"
import * as path from "node:path"
import { loadRunSeries } from "../../report/series.ts"
import { writeReport } from "../../report/writeReport.ts"

export interface ReportArgs {
  readonly runDirs: ReadonlyArray<string>
  readonly out: Option.Option<string>
  readonly title: Option.Option<string>
}

/** `continuum report RUN_DIR...`: loss and LR charts of any runs, resumes marked, in one HTML page. */
export const report = (args: ReportArgs) =>
  Effect.gen(function*() {
    const runs = yield* Effect.forEach(args.runDirs, (dir) => loadRunSeries(dir))
    const outDir = Option.getOrElse(args.out, () => path.join(args.runDirs[0]!, "report"))
    const title = Option.getOrElse(args.title, () => `continuum report: ${runs.map((r) => r.name).join(", ")}`)
    const written = yield* writeReport(outDir, runs, { title })
    yield* Console.log(`report: ${written.html} (charts: ${written.svg.join(", ")})`)
  })
