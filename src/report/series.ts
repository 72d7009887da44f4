/**
 * Reads a run's `metrics.jsonl` into the series the charts draw: training loss and LR per step,
 * validation loss per evaluation, and the steps where the run was resumed.
 */
import { Effect, FileSystem, Option, Schema, Struct } from "effect"
import * as path from "node:path"
import { isObjectLocation } from "../config/objectLocation.ts"
import { EvalLine, metricsFile, parseLine, ResumeLine, StepLine } from "../train/metricsLine.ts"
import { ReportError } from "./ReportError.ts"

export interface StepPoint {
  readonly step: number
  /** Training loss of the step's batch; NaN where the run wrote a non-finite value (`null`). */
  readonly loss: number
  /** Learning rate the step used; NaN where the run wrote a non-finite value. */
  readonly lr: number
}

export interface EvalPoint {
  readonly step: number
  readonly valLoss: number
}

export interface ResumePoint {
  /** The run resumed from the state after `step` updates. */
  readonly step: number
  /** Resume policy name (exact, continue, transfer, custom). */
  readonly policy: string
  /** How the schedule was reconciled (keep, extend, rebuild, rewarm, restart). */
  readonly schedule: string
}

export interface RunSeries {
  readonly name: string
  readonly steps: ReadonlyArray<StepPoint>
  readonly evals: ReadonlyArray<EvalPoint>
  readonly resumes: ReadonlyArray<ResumePoint>
}

// The charts need a step line's loss and LR only: lines that lack the other fields still chart.
const decodeStepLine = Schema.decodeUnknownOption(StepLine.mapFields(Struct.pick(["step", "loss", "lr"])))
const decodeEvalLine = Schema.decodeUnknownOption(EvalLine)
const decodeResumeLine = Schema.decodeUnknownOption(ResumeLine)

const finiteOrNaN = (x: number | null): number => (x !== null && Number.isFinite(x) ? x : NaN)

/** Keeps the last point written for each step, in step order. */
const lastPerStep = <P extends { readonly step: number }>(points: ReadonlyArray<P>): Array<P> => {
  const byStep = new Map<number, P>()
  for (const p of points) byStep.set(p.step, p)
  return [...byStep.values()].sort((a, b) => a.step - b.step)
}

/**
 * Parses the text of a metrics file. Lines that are not JSON, or match none of the step,
 * evaluation and resume shapes, are skipped. A resume marker at step k discards the points past k
 * written before it: they belong to a trajectory the resumed run replaced (a crashed process that
 * ran past its last checkpoint), so the series always describes the one trajectory that survived.
 */
export const parseMetrics = (text: string): Omit<RunSeries, "name"> => {
  let steps: Array<StepPoint> = []
  let evals: Array<EvalPoint> = []
  let resumes: Array<ResumePoint> = []
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    const record = parseLine(line)
    if (record === undefined) continue // a line torn by a crash, or not JSON at all

    const resume = decodeResumeLine(record)
    if (Option.isSome(resume)) {
      const k = resume.value.step
      steps = steps.filter((p) => p.step <= k)
      evals = evals.filter((p) => p.step <= k)
      resumes = resumes.filter((p) => p.step < k)
      resumes.push({ step: k, policy: resume.value.resume, schedule: resume.value.schedule })
      continue
    }
    // One line may carry both a training step and an evaluation.
    const step = decodeStepLine(record)
    if (Option.isSome(step)) {
      steps.push({ step: step.value.step, loss: finiteOrNaN(step.value.loss), lr: finiteOrNaN(step.value.lr) })
    }
    const evaluation = decodeEvalLine(record)
    if (Option.isSome(evaluation)) {
      evals.push({ step: evaluation.value.step, valLoss: finiteOrNaN(evaluation.value.valLoss) })
    }
  }
  return { steps: lastPerStep(steps), evals: lastPerStep(evals), resumes }
}

/**
 * Loads `<runDir>/metrics.jsonl`. The series is named `name`, or the run directory's base name.
 * Fails with `ReportError` naming the file when it is missing or unreadable.
 */
export const loadRunSeries = Effect.fnUntraced(function*(
  runDir: string,
  name?: string
): Effect.fn.Return<RunSeries, ReportError, FileSystem.FileSystem> {
  if (isObjectLocation(runDir)) {
    // The metrics are written beside the run, never into the bucket: there is nothing to chart there.
    return yield* new ReportError({
      operation: "read",
      path: runDir,
      reason: "metrics.jsonl stays in the run directory (checkpoint.location moves only the checkpoints); " +
        "pass the run directory"
    })
  }
  const fs = yield* FileSystem.FileSystem
  const file = metricsFile(runDir)
  const text = yield* fs.readFileString(file).pipe(
    Effect.mapError((error) =>
      new ReportError({
        operation: "read",
        path: file,
        reason: error.reason._tag === "NotFound" ? "no such file" : error.message
      })
    )
  )
  return { name: name ?? path.basename(path.resolve(runDir)), ...parseMetrics(text) }
})
