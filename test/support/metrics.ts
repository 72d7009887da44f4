import { metricsFile, readMetrics } from "../../src/train/metricsLine.ts"

type Line = Record<string, number>

/** A step line without its timings: what an exact resume must reproduce. */
const stepLine = (r: Line): Line => ({ step: r.step, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm, tokens: r.tokens })
const evalLine = (r: Line): Line => ({ step: r.step, valLoss: r.valLoss })

/** The trajectory a run's metrics file records: every step and evaluation line, minus timings and markers. */
export const trajectory = (runDir: string): Array<Line> =>
  readMetrics(metricsFile(runDir)).flatMap((r) => "loss" in r ? [stepLine(r)] : "valLoss" in r ? [evalLine(r)] : [])

/** The step lines of the trajectory. */
export const stepLines = (runDir: string): Array<Line> =>
  readMetrics(metricsFile(runDir)).filter((r) => "loss" in r).map(stepLine)

/** The evaluation lines of the trajectory. */
export const evalLines = (runDir: string): Array<Line> =>
  readMetrics(metricsFile(runDir)).filter((r) => "valLoss" in r).map(evalLine)
