/** `checkExactResume`: stopping and resuming `exact` is bit-identical to never stopping. */
import { NodeFileSystem } from "@effect/platform-node"
import { Effect } from "effect"
import * as NodePath from "node:path"
import { canonicalJson } from "../checkpoint/canonicalJson.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { Start } from "../config/Start.ts"
import { plannedStartLayer } from "../resume/plannedStart.ts"
import { presets } from "../resume/policy.ts"
import { runLayer } from "../train/layers.ts"
import { applyChanges, type ConfigChanges } from "./changes.ts"
import { type Difference, firstLeafDifference, firstTensorDifference, show } from "./compare.ts"
import { type ResumeCheckError, ResumeMismatch } from "./errors.ts"
import { metricsLines, type MetricsRecords, readCheckpoint } from "./results.ts"
import { checkStopPoints, type RunBuilder, train, trainUntil, withRunDir, workDirectory } from "./runs.ts"
import { firstEventDifference, trajectoryOf, trajectoryState } from "./trajectory.ts"

export interface ExactResumeOptions {
  /** The run to check; its `runDir` is not used (runs go to `workDir`). */
  readonly config: RunConfig
  /** Steps k to stop at and resume from, each in [1, config.steps − 1]. */
  readonly stopAt: ReadonlyArray<number>
  /** Changes applied to the resumed run only; exact allows P, A, logging and checkpoint cadence. */
  readonly changes?: ConfigChanges
  readonly build?: RunBuilder
  /** Where the runs go; default a temporary directory removed afterwards. */
  readonly workDir?: string
}

export interface ExactResumeReport {
  readonly totalSteps: number
  readonly stopPoints: ReadonlyArray<{
    readonly stopAt: number
    /** Step and evaluation events compared (those of the interrupted and the resumed run). */
    readonly eventsCompared: number
    /** Model and optimizer tensors of the final checkpoint compared. */
    readonly tensorsCompared: number
  }>
}

/**
 * The first difference of the resumed run's metrics.jsonl: one `exact` resume marker at k, and
 * otherwise the uninterrupted run's records.
 */
const firstMetricsDifference = (
  k: number,
  reference: MetricsRecords,
  metrics: MetricsRecords
): Difference | undefined => {
  const marker = canonicalJson(metrics.markers.map((m) => ({ step: m.step, resume: m.resume })))
  if (marker !== canonicalJson([{ step: k, resume: "exact" }])) {
    return {
      step: k,
      field: "metrics.jsonl resume markers",
      expected: show([{ step: k, resume: "exact" }]),
      actual: marker
    }
  }
  for (let i = 0; i < Math.max(reference.lines.length, metrics.lines.length); i++) {
    const a = reference.lines[i]
    const b = metrics.lines[i]
    if (canonicalJson(a ?? null) !== canonicalJson(b ?? null)) {
      const step = (a ?? b)?.step
      return {
        step: typeof step === "number" ? step : null,
        field: `metrics.jsonl record ${i + 1}`,
        expected: show(a ?? null),
        actual: show(b ?? null)
      }
    }
  }
  return undefined
}

/**
 * For each stop point k: trains 0→N, 0→k and resumes `exact` k→N, and fails with the first
 * difference (`ResumeMismatch`) between the uninterrupted and the resumed run.
 */
export const checkExactResume = (
  options: ExactResumeOptions
): Effect.Effect<ExactResumeReport, ResumeCheckError> =>
  Effect.scoped(Effect.gen(function*() {
    const build = options.build ?? runLayer
    const { config } = options
    const N = config.steps
    const stops = yield* checkStopPoints(options.stopAt, N)
    const resumedChanges = yield* applyChanges(config, options.changes ?? {})
    // Evaluations are compared unless the resumed run evaluates at other steps (allowed: logging).
    const withEval = canonicalJson(resumedChanges.eval) === canonicalJson(config.eval)
    const work = yield* workDirectory(options.workDir)

    const refDir = NodePath.join(work, "uninterrupted")
    const reference = yield* train(build, withRunDir(config, refDir), Start.fresh, "uninterrupted", { label: null })
    const refFinal = yield* readCheckpoint(refDir, N, "uninterrupted", null)
    const refMetrics = yield* metricsLines(refDir, withEval)

    const stopPoints: Array<ExactResumeReport["stopPoints"][number]> = []
    for (const k of stops) {
      const runDir = NodePath.join(work, `stop-${k}`)
      const mismatch = (d: Difference) => new ResumeMismatch({ stopAt: k, ...d })
      const interrupted = yield* trainUntil(build, config, runDir, k)
      const resumedConfig = withRunDir(resumedChanges, runDir)
      const resumed = yield* train(build, resumedConfig, plannedStartLayer(presets.exact, undefined), "resumed", {
        label: k
      })

      const expected = trajectoryOf(reference.events, withEval)
      const actual = [...trajectoryOf(interrupted.events, withEval), ...trajectoryOf(resumed.events, withEval)]
      const eventDifference = firstEventDifference(expected, actual)
      if (eventDifference !== undefined) return yield* mismatch(eventDifference)

      const final = yield* readCheckpoint(runDir, N, "resumed", k)
      const tensorDifference = firstTensorDifference("model", refFinal.model, final.model, N) ??
        firstTensorDifference("optimizer", refFinal.optimizer, final.optimizer, N) ??
        firstLeafDifference("state", trajectoryState(refFinal.state), trajectoryState(final.state), N) ??
        firstLeafDifference("fingerprints", refFinal.manifest.fingerprints, final.manifest.fingerprints, N)
      if (tensorDifference !== undefined) return yield* mismatch(tensorDifference)

      const metricsDifference = firstMetricsDifference(k, refMetrics, yield* metricsLines(runDir, withEval))
      if (metricsDifference !== undefined) return yield* mismatch(metricsDifference)

      stopPoints.push({
        stopAt: k,
        eventsCompared: actual.length,
        tensorsCompared: Object.keys(final.model).length + Object.keys(final.optimizer).length
      })
    }
    return { totalSteps: N, stopPoints }
  })).pipe(Effect.provide(NodeFileSystem.layer))
