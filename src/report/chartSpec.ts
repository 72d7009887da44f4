/**
 * Vega-Lite specifications of the two report charts, built from run series. Pure data: rendering
 * happens in charts.ts.
 *
 * Every layer has a name, so each mark group in the rendered SVG carries a stable class
 * (`<name>_marks`): `loss_raw`, `loss_smooth`, `val_loss`, `val_points`, `lr`, `resume_rule`, `resume_label`.
 */
import type { TopLevelSpec } from "vega-lite"
import type { RunSeries } from "./series.ts"
import { emaSmooth, emaWeight, smoothingWindow, thinIndices } from "./smooth.ts"

/** The most points drawn per line; longer series are thinned (min/max per bucket). */
export const MAX_POINTS_PER_LINE = 1500

/** Total chart width in pixels, legend included. */
export const CHART_WIDTH = 900
const CHART_HEIGHT = 360

// Tableau 10: distinguishable, and readable on white. Runs past ten reuse colours in order.
const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac"
]

/**
 * Run names as drawn: colour is keyed by name, so two runs that share a base name (same
 * directory name under different parents) get a ` (2)`, ` (3)`… suffix to stay apart.
 */
export const distinctRunNames = (runs: ReadonlyArray<RunSeries>): Array<string> => {
  const seen = new Map<string, number>()
  const taken = new Set(runs.map((r) => r.name))
  return runs.map((run) => {
    const count = (seen.get(run.name) ?? 0) + 1
    seen.set(run.name, count)
    if (count === 1) return run.name
    let k = count
    while (taken.has(`${run.name} (${k})`)) k++
    const unique = `${run.name} (${k})`
    taken.add(unique)
    return unique
  })
}

/** Line height of resume labels (font size 11). */
const LABEL_LINE = 14

/** The text drawn next to a resume rule; the run is named only when several runs share a chart. */
export const resumeLabel = (run: string, policy: string, schedule: string, severalRuns: boolean): string =>
  `${severalRuns ? `${run}: ` : ""}resume ${policy}/${schedule}`

interface TrainRow {
  run: string
  step: number
  loss: number | null
  smooth: number | null
}
interface ValRow {
  run: string
  step: number
  valLoss: number | null
}
interface LrRow {
  run: string
  step: number
  lr: number | null
}
interface ResumeRow {
  run: string
  step: number
  label: string
  labelY: number
}

// Vega treats null as missing and breaks the line there; NaN would do the same, but null keeps the
// data serialisable in the spec.
const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null)

/** Indices where smoothing restarts: the first step past each resume point. */
const restartIndices = (run: RunSeries): Array<number> =>
  run.resumes.map((r) => run.steps.findIndex((p) => p.step > r.step)).filter((i) => i > 0)

/** The rows each chart layer draws, for all runs. */
export interface ChartData {
  readonly names: ReadonlyArray<string>
  readonly smoothingWindow: number
  /** First and last step of anything drawn, shared by both charts so their x axes line up. */
  readonly stepDomain: readonly [number, number] | undefined
  readonly train: ReadonlyArray<TrainRow>
  readonly val: ReadonlyArray<ValRow>
  readonly lr: ReadonlyArray<LrRow>
  readonly resumes: ReadonlyArray<ResumeRow>
}

export const chartData = (runs: ReadonlyArray<RunSeries>): ChartData => {
  const names = distinctRunNames(runs)
  const severalRuns = runs.length > 1
  // One window for all runs, from the longest, so curves on one chart are smoothed alike.
  const window = smoothingWindow(Math.max(0, ...runs.map((r) => r.steps.length)))
  const weight = emaWeight(window)
  const train: Array<TrainRow> = []
  const val: Array<ValRow> = []
  const lr: Array<LrRow> = []
  const resumes: Array<ResumeRow> = []
  runs.forEach((run, r) => {
    const name = names[r]
    const loss = Float64Array.from(run.steps, (p) => p.loss)
    const smooth = emaSmooth(loss, restartIndices(run), weight)
    for (const i of thinIndices(loss, MAX_POINTS_PER_LINE)) {
      train.push({ run: name, step: run.steps[i].step, loss: orNull(loss[i]), smooth: orNull(smooth[i]) })
    }
    const rates = Float64Array.from(run.steps, (p) => p.lr)
    for (const i of thinIndices(rates, MAX_POINTS_PER_LINE)) {
      lr.push({ run: name, step: run.steps[i].step, lr: orNull(rates[i]) })
    }
    for (const e of run.evals) val.push({ run: name, step: e.step, valLoss: orNull(e.valLoss) })
    for (const m of run.resumes) {
      const label = resumeLabel(name, m.policy, m.schedule, severalRuns)
      // Labels of runs resumed at the same step are stacked in lines instead of overprinted.
      const slot = resumes.filter((r) => r.step === m.step).length
      resumes.push({ run: name, step: m.step, label, labelY: 4 + LABEL_LINE * slot })
    }
  })
  const steps = [...train, ...val, ...resumes].map((row) => row.step)
  const stepDomain = steps.length > 0 ? [Math.min(...steps), Math.max(...steps)] as const : undefined
  return { names, smoothingWindow: window, stepDomain, train, val, lr, resumes }
}

const stepAxis = (data: ChartData) =>
  ({
    field: "step",
    type: "quantitative",
    title: "step",
    scale: data.stepDomain ? { domain: [...data.stepDomain], nice: false } : { nice: false }
  }) as const

const colorBy = (names: ReadonlyArray<string>) =>
  ({
    field: "run",
    type: "nominal",
    title: "run",
    scale: { domain: [...names], range: PALETTE },
    legend: { orient: "right", labelLimit: 160 }
  }) as const

/** Dashed vertical rules at resume steps, each labelled at the top, beside the rule. */
const resumeLayers = (data: ChartData) =>
  [
    {
      name: "resume_rule",
      data: { values: [...data.resumes] },
      mark: { type: "rule", strokeDash: [4, 3], strokeWidth: 1.5, opacity: 0.9 },
      encoding: { x: stepAxis(data), color: colorBy(data.names) }
    },
    {
      name: "resume_label",
      data: { values: [...data.resumes] },
      mark: { type: "text", align: "left", baseline: "top", dx: 4, fontSize: 11 },
      encoding: {
        x: stepAxis(data),
        y: { field: "labelY", type: "quantitative", scale: null },
        text: { field: "label" },
        color: colorBy(data.names)
      }
    }
  ] as const

// Subtitle lines are kept short: without a canvas, Vega estimates text widths generously, and
// a long line would widen the layout and squeeze the plot.
const frame = (title: string, subtitle: ReadonlyArray<string>) =>
  ({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, subtitle: [...subtitle], anchor: "start", subtitleColor: "#555" },
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    autosize: { type: "fit-x", contains: "padding" },
    background: "white",
    config: {
      view: { stroke: "#ccc" },
      axis: { gridColor: "#eee", titleFontSize: 12 },
      // the same label gutter on both charts, so their plot areas (and steps) line up vertically
      axisY: { minExtent: 48 },
      legend: { titleFontSize: 12, symbolOpacity: 1 }
    }
  }) as const

type StepAxis = ReturnType<typeof stepAxis>

/**
 * The loss layers over `x`: raw faintly, smoothed solid, validation dashed with points. `prefix`
 * names the layers of a second panel apart; `filter` keeps only the rows it draws, so that its y
 * scale fits them.
 */
const lossLayers = (data: ChartData, x: StepAxis, prefix = "", filter?: string) => {
  const transform = filter === undefined ? {} : { transform: [{ filter }] }
  // A zoomed panel cuts lines at its left edge instead of drawing them outside the plot.
  const mark = filter === undefined ? {} : { clip: true }
  return [
    {
      name: `${prefix}loss_raw`,
      data: { values: [...data.train] },
      ...transform,
      mark: { type: "line", strokeWidth: 1, opacity: 0.3, ...mark },
      encoding: {
        x,
        y: { field: "loss", type: "quantitative", title: "loss", scale: { zero: false } },
        color: colorBy(data.names)
      }
    },
    {
      name: `${prefix}loss_smooth`,
      data: { values: [...data.train] },
      ...transform,
      mark: { type: "line", strokeWidth: 2, ...mark },
      encoding: { x, y: { field: "smooth", type: "quantitative" }, color: colorBy(data.names) }
    },
    {
      name: `${prefix}val_loss`,
      data: { values: [...data.val] },
      ...transform,
      mark: { type: "line", strokeWidth: 1.5, strokeDash: [6, 3], ...mark },
      encoding: { x, y: { field: "valLoss", type: "quantitative" }, color: colorBy(data.names) }
    },
    {
      name: `${prefix}val_points`,
      data: { values: [...data.val] },
      ...transform,
      mark: { type: "point", filled: true, size: 30, opacity: 1, ...mark },
      encoding: { x, y: { field: "valLoss", type: "quantitative" }, color: colorBy(data.names) }
    }
  ]
}

/** Height of the zoomed panel under the loss chart. */
const ZOOM_HEIGHT = 240
/** Plot width of a chart with a zoomed panel: concatenated views cannot fit the width, so it is set. */
const CONCAT_PLOT_WIDTH = CHART_WIDTH - 250

/**
 * The steps a zoomed panel shows, `[from, last step]`, when `from` lies inside the charted steps
 * (for the demo, the resume step `k`: after it the variants differ by less than the loss falls
 * over the whole run).
 */
export const zoomDomain = (data: ChartData, from: number | undefined): readonly [number, number] | undefined =>
  from === undefined || data.stepDomain === undefined || from < data.stepDomain[0] || from >= data.stepDomain[1]
    ? undefined
    : [from, data.stepDomain[1]]

/**
 * Training loss (raw faintly, smoothed solid), validation loss (dashed with points), resumes. With
 * `zoomFrom`, a second panel under it shows only the steps from `zoomFrom` on, with its own y scale
 * (layers `zoom_loss_raw`, `zoom_loss_smooth`, `zoom_val_loss`, `zoom_val_points`, `zoom_resume_rule`).
 */
export const lossSpec = (data: ChartData, title?: string, zoomFrom?: number): TopLevelSpec => {
  const smoothing = data.smoothingWindow > 1 ? `smoothed (EMA, ~${data.smoothingWindow} steps)` : "training loss"
  const framed = frame(
    title ? `${title}: loss` : "Loss",
    [`faint: raw training loss · solid: ${smoothing}`, "dashed with points: validation loss · dashed rules: resumes"]
  )
  const main = [...lossLayers(data, stepAxis(data)), ...resumeLayers(data)]
  const zoom = zoomDomain(data, zoomFrom)
  if (zoom === undefined) return { ...framed, layer: main } as TopLevelSpec
  const [from, to] = zoom
  const zoomAxis: StepAxis = { ...stepAxis(data), scale: { domain: [from, to], nice: false } }
  const inZoom = `datum.step >= ${from}`
  const { width: _width, height: _height, autosize: _autosize, ...shared } = framed
  return {
    ...shared,
    autosize: { type: "pad" },
    vconcat: [
      { width: CONCAT_PLOT_WIDTH, height: CHART_HEIGHT, layer: main },
      {
        title: { text: `steps ${from}–${to}, own loss scale`, anchor: "start", fontSize: 12 },
        width: CONCAT_PLOT_WIDTH,
        height: ZOOM_HEIGHT,
        layer: [
          ...lossLayers(data, zoomAxis, "zoom_", inZoom),
          {
            name: "zoom_resume_rule",
            data: { values: [...data.resumes] },
            transform: [{ filter: inZoom }],
            mark: { type: "rule", strokeDash: [4, 3], strokeWidth: 1.5, opacity: 0.9 },
            encoding: { x: zoomAxis, color: colorBy(data.names) }
          }
        ]
      }
    ]
  } as TopLevelSpec
}

/** Learning rate per step, one line per run, with resumes. */
export const lrSpec = (data: ChartData, title?: string): TopLevelSpec =>
  ({
    ...frame(title ? `${title}: learning rate` : "Learning rate", [
      "learning rate used by each step · dashed rules: resumes"
    ]),
    layer: [
      {
        name: "lr",
        data: { values: [...data.lr] },
        mark: { type: "line", strokeWidth: 2 },
        encoding: {
          x: stepAxis(data),
          y: { field: "lr", type: "quantitative", title: "learning rate", axis: { format: "~g" } },
          color: colorBy(data.names)
        }
      },
      ...resumeLayers(data)
    ]
  }) as TopLevelSpec
