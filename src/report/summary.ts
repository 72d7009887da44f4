/** The default summary table of a report: one row per run. */
import { distinctRunNames } from "./chartSpec.ts"
import type { RunSeries } from "./series.ts"

export type SummaryRow = Record<string, string | number>

const lastFinite = (values: ReadonlyArray<number>): number | undefined => {
  for (let i = values.length - 1; i >= 0; i--) if (Number.isFinite(values[i])) return values[i]
  return undefined
}

/**
 * Per run: last step, final training loss, best validation loss (and its step), resume count, and
 * how many steps logged a non-finite loss (a diverged run shows gaps in its curve; this says how
 * many). Missing values are "—".
 */
export const defaultSummary = (runs: ReadonlyArray<RunSeries>): Array<SummaryRow> => {
  const names = distinctRunNames(runs)
  return runs.map((run, r) => {
    const finalLoss = lastFinite(run.steps.map((p) => p.loss))
    let best: { step: number; valLoss: number } | undefined
    for (const e of run.evals) {
      if (Number.isFinite(e.valLoss) && (best === undefined || e.valLoss < best.valLoss)) best = e
    }
    return {
      run: names[r],
      "last step": run.steps.length > 0 ? run.steps[run.steps.length - 1].step : "—",
      "final loss": finalLoss ?? "—",
      "best val loss": best?.valLoss ?? "—",
      "best val step": best?.step ?? "—",
      resumes: run.resumes.length,
      "non-finite losses": run.steps.filter((p) => !Number.isFinite(p.loss)).length
    }
  })
}
