/** Writes a report directory: `report.html` (self-contained) plus the two charts as SVG files. */
import { Effect, FileSystem } from "effect"
import * as path from "node:path"
import { renderCharts } from "./charts.ts"
import { renderReportHtml, type ReportOptions } from "./html.ts"
import { ReportError } from "./ReportError.ts"
import type { RunSeries } from "./series.ts"

export interface WrittenReport {
  /** Path of `report.html`. */
  readonly html: string
  /** Paths of `loss.svg` and `lr.svg`, in that order. */
  readonly svg: ReadonlyArray<string>
}

/** Renders the charts and writes `report.html`, `loss.svg` and `lr.svg` into `outDir` (created if needed). */
export const writeReport = Effect.fnUntraced(function*(
  outDir: string,
  runs: ReadonlyArray<RunSeries>,
  options: ReportOptions
): Effect.fn.Return<WrittenReport, ReportError, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const charts = yield* renderCharts(runs, { title: options.title, zoomFrom: options.zoomFrom })
  const html = renderReportHtml(runs, charts, options)

  const write = (file: string, text: string) =>
    fs.writeFileString(file, text).pipe(
      Effect.mapError((error) => new ReportError({ operation: "write", path: file, reason: error.message }))
    )
  yield* fs.makeDirectory(outDir, { recursive: true }).pipe(
    Effect.mapError((error) => new ReportError({ operation: "write", path: outDir, reason: error.message }))
  )
  const lossFile = path.join(outDir, "loss.svg")
  const lrFile = path.join(outDir, "lr.svg")
  const htmlFile = path.join(outDir, "report.html")
  yield* write(lossFile, charts.lossSvg)
  yield* write(lrFile, charts.lrSvg)
  yield* write(htmlFile, html)
  return { html: htmlFile, svg: [lossFile, lrFile] }
})
