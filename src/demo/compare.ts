/** Comparisons between the variants' recorded curves, read from their metrics files. */
import type { RunSeries } from "../report/series.ts"

export interface LossComparison {
  /** Steps both runs logged. */
  readonly commonSteps: number
  /** `max |loss_a − loss_b|` over the common steps: 0 when they agree bit for bit. */
  readonly maxAbsDelta: number
  /** The first common step whose losses differ (any bit); absent when none does. */
  readonly firstDifferentStep: number | undefined
}

/** Two logged values' distance; a non-finite value only matches the same value. */
const distance = (a: number, b: number): number => {
  if (Number.isFinite(a) && Number.isFinite(b)) return Math.abs(a - b)
  return Object.is(a, b) ? 0 : Infinity
}

/** Compares the training losses of `run` and `reference` over the steps both logged. */
export const compareLosses = (run: RunSeries, reference: RunSeries): LossComparison => {
  const byStep = new Map(reference.steps.map((p) => [p.step, p.loss]))
  let commonSteps = 0
  let maxAbsDelta = 0
  let firstDifferentStep: number | undefined
  for (const point of run.steps) {
    const other = byStep.get(point.step)
    if (other === undefined) continue
    commonSteps++
    const d = distance(point.loss, other)
    if (d > maxAbsDelta) maxAbsDelta = d
    if (firstDifferentStep === undefined && !Object.is(point.loss, other)) firstDifferentStep = point.step
  }
  return { commonSteps, maxAbsDelta, firstDifferentStep }
}

/**
 * The mean training loss of `run` minus that of `reference` over the steps `from…to` both logged
 * (undefined when they share none): how much higher the loss ran just after a resume.
 */
export const meanLossDelta = (run: RunSeries, reference: RunSeries, from: number, to: number): number | undefined => {
  const byStep = new Map(reference.steps.map((p) => [p.step, p.loss]))
  let sum = 0
  let count = 0
  for (const point of run.steps) {
    const other = byStep.get(point.step)
    if (point.step < from || point.step > to || other === undefined) continue
    sum += point.loss - other
    count++
  }
  return count === 0 ? undefined : sum / count
}

/** The LR update `step` used (`lr(step − 1)`), when the run logged that step. */
export const lrOfStep = (run: RunSeries, step: number): number | undefined => run.steps.find((p) => p.step === step)?.lr

/** The last logged validation loss, when the run evaluated at all. */
export const finalValLoss = (run: RunSeries): number | undefined =>
  run.evals.length === 0 ? undefined : run.evals[run.evals.length - 1]!.valLoss

/** The last step the run logged (0 for none). */
export const lastStep = (run: RunSeries): number => run.steps.length === 0 ? 0 : run.steps[run.steps.length - 1]!.step
