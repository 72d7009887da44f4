/**
 * The format of a run's history, `<runDir>/metrics.jsonl`: one JSON object per line, written by
 * the metrics sink and read back by reports, forks and tests. Three kinds of line, all keyed by
 * `step` (the number of updates completed when the line was written):
 *
 * ```
 * {"step":12,"loss":3.1,"lr":0.0003,"gradNorm":0.8,"tokens":768,"tokensPerSec":5123,"ranks":2}   an update
 * {"step":12,"valLoss":3.2}                                                              an evaluation
 * {"step":8,"resume":"exact","schedule":"keep"}                                          a resume
 * ```
 */
import { Option, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

export const metricsFile = (runDir: string): string => path.join(runDir, "metrics.jsonl")

const Step = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
// JSON.stringify writes NaN and ±Infinity as null: a diverged loss arrives as null, and must stay
// readable rather than make the whole line unreadable.
const Measured = Schema.NullOr(Schema.Number)

/** An update: its batch's loss, the LR it used, the gradient norm before clipping, tokens so far. */
export const StepLine = Schema.Struct({
  step: Step,
  loss: Measured,
  lr: Measured,
  gradNorm: Measured,
  tokens: Step,
  tokensPerSec: Measured,
  /** The ranks that computed the update (absent from histories written before ranks were threads). */
  ranks: Schema.optionalKey(Schema.Int)
})
export type StepLine = typeof StepLine.Type

/** The validation loss after `step` updates (step 0: the initial model). */
export const EvalLine = Schema.Struct({ step: Step, valLoss: Measured })
export type EvalLine = typeof EvalLine.Type

/** A resumed run starts here: the resume policy's name and how the schedule was reconciled. */
export const ResumeLine = Schema.Struct({ step: Step, resume: Schema.NonEmptyString, schedule: Schema.NonEmptyString })
export type ResumeLine = typeof ResumeLine.Type

export const MetricsLine = Schema.Union([StepLine, EvalLine, ResumeLine])
export type MetricsLine = typeof MetricsLine.Type

// Encoding writes the fields in the schema's order and leaves out any others (an event's `_tag`).
const encodeLine = Schema.encodeSync(MetricsLine)

/** The text of one line, newline included. */
export const lineText = (line: MetricsLine): string => JSON.stringify(encodeLine(line)) + "\n"

/** The JSON value of a line, or undefined for a line that is not JSON (torn by a crash). */
export const parseLine = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const decodeStepOf = Schema.decodeUnknownOption(Schema.Struct({ step: Step }))
const decodeResume = Schema.decodeUnknownOption(ResumeLine)

/** What the history keeps of a line: its step, and whether it marks a resume; undefined when unreadable. */
export const lineKey = (text: string): { readonly step: number; readonly resume: boolean } | undefined => {
  const record = parseLine(text)
  return Option.match(decodeStepOf(record), {
    onNone: () => undefined,
    onSome: ({ step }) => ({ step, resume: Option.isSome(decodeResume(record)) })
  })
}

/** Reads a metrics file back into records, as written (for tests). */
export const readMetrics = (file: string): Array<Record<string, number>> =>
  fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) =>
    JSON.parse(l) as Record<string, number>
  )
