/**
 * Renders the loss and learning-rate charts to SVG strings with Vega-Lite (compiled to Vega, then
 * drawn by Vega's headless SVG renderer: no browser, no canvas).
 */
import { Effect } from "effect"
import * as vega from "vega"
import { compile, type TopLevelSpec } from "vega-lite"
import { chartData, lossSpec, lrSpec } from "./chartSpec.ts"
import { ReportError } from "./ReportError.ts"
import type { RunSeries } from "./series.ts"

export interface ChartSvgs {
  readonly lossSvg: string
  readonly lrSvg: string
}

export interface ChartOptions {
  /** Prefixed to each chart's title. */
  readonly title?: string | undefined
  /** Adds a panel under the loss chart with the steps from this one on, on its own y scale. */
  readonly zoomFrom?: number | undefined
}

const toSvg = (spec: TopLevelSpec, file: string): Effect.Effect<string, ReportError> =>
  Effect.tryPromise({
    try: async () => {
      const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" })
      try {
        return await view.toSVG()
      } finally {
        view.finalize()
      }
    },
    catch: (e) =>
      new ReportError({ operation: "render", path: file, reason: e instanceof Error ? e.message : String(e) })
  })

/** Training/validation loss per step and LR per step, one colour per run, resumes marked on both. */
export const renderCharts = Effect.fnUntraced(function*(
  runs: ReadonlyArray<RunSeries>,
  options: ChartOptions = {}
): Effect.fn.Return<ChartSvgs, ReportError> {
  const data = chartData(runs)
  const lossSvg = yield* toSvg(lossSpec(data, options.title, options.zoomFrom), "loss.svg")
  const lrSvg = yield* toSvg(lrSpec(data, options.title), "lr.svg")
  return { lossSvg, lrSvg }
})
