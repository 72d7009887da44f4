/**
 * The report page: one self-contained HTML file (charts inlined as SVG, CSS inlined, no scripts,
 * no external resources), readable offline and attachable anywhere.
 */
import type { ChartSvgs } from "./charts.ts"
import { distinctRunNames } from "./chartSpec.ts"
import type { RunSeries } from "./series.ts"
import { defaultSummary, type SummaryRow } from "./summary.ts"

export interface ReportOptions {
  readonly title: string
  /** Rows of the summary table; columns are the keys, in order of first appearance. Defaults to
   * one row per run (see `defaultSummary`). */
  readonly summary?: ReadonlyArray<SummaryRow>
  /** Free-text notes listed under the charts. */
  readonly notes?: ReadonlyArray<string>
  /** A zoomed panel of the loss from this step on (see `lossSpec`). */
  readonly zoomFrom?: number | undefined
}

export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

/** Integers as written; other numbers to 4 significant digits (small values in exponent form). */
export const formatCell = (value: string | number): string => {
  if (typeof value === "string") return value
  if (!Number.isFinite(value)) return String(value)
  if (Number.isInteger(value)) return String(value)
  const magnitude = Math.abs(value)
  return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)
    ? value.toExponential(3)
    : String(Number(value.toPrecision(4)))
}

const table = (rows: ReadonlyArray<SummaryRow>): string => {
  const columns: Array<string> = []
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key)
  const head = columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join("")
  const body = rows.map((row) =>
    `<tr>${
      columns.map((c) => {
        const v = row[c]
        return `<td${typeof v === "number" ? " class=\"num\"" : ""}>${
          v === undefined ? "" : escapeHtml(formatCell(v))
        }</td>`
      }).join("")
    }</tr>`
  ).join("\n")
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`
}

const resumeRows = (runs: ReadonlyArray<RunSeries>): Array<SummaryRow> => {
  const names = distinctRunNames(runs)
  return runs.flatMap((run, r) =>
    run.resumes.map((m) => ({ run: names[r], "resumed at step": m.step, policy: m.policy, schedule: m.schedule }))
  )
}

const STYLE = `
body { margin: 0; background: #f6f7f9; color: #1d232b; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 10px; }
.runs { color: #555; margin: 0 0 20px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 16px; margin: 0 0 18px; }
.chart svg { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #e6e9ed; padding: 5px 8px; text-align: left; }
th { background: #f0f2f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.none { color: #777; margin: 0; }
ul { margin: 0; padding-left: 20px; }
`

/** A self-contained HTML report: title, summary table, loss and LR charts, resumes, notes. */
export const renderReportHtml = (runs: ReadonlyArray<RunSeries>, charts: ChartSvgs, options: ReportOptions): string => {
  const names = distinctRunNames(runs)
  const summary = options.summary ?? defaultSummary(runs)
  const resumes = resumeRows(runs)
  const notes = options.notes ?? []
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(options.title)}</h1>
<p class="runs">${runs.length === 1 ? "run" : "runs"}: ${names.map(escapeHtml).join(", ") || "none"}</p>
<section id="summary">
<h2>Summary</h2>
${summary.length > 0 ? table(summary) : "<p class=\"none\">No rows.</p>"}
</section>
<section class="chart" id="loss-chart" aria-label="Loss">
${charts.lossSvg}
</section>
<section class="chart" id="lr-chart" aria-label="Learning rate">
${charts.lrSvg}
</section>
<section id="resumes">
<h2>Resumes</h2>
${resumes.length > 0 ? table(resumes) : "<p class=\"none\">No run was resumed.</p>"}
</section>
${
    notes.length > 0
      ? `<section id="notes">\n<h2>Notes</h2>\n<ul>\n${
        notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("\n")
      }\n</ul>\n</section>\n`
      : ""
  }</main>
</body>
</html>
`
}
