/**
 * Learning-rate schedules: configuration (Schema data), resolution against a run's total steps into
 * a concrete spec, and the pure `lr(schedule, t)`.
 *
 * Step convention (docs/design.md, "The determinism contract"): update `s` (1…N) uses `lr(s − 1)`, so `t` runs over 0…N−1 in a run.
 * Past the end the LR stays where the schedule ended (the decay progress is clamped).
 */
import { Result } from "effect"
import type { ConfigError } from "../config/ConfigError.ts"
import { decodeRunConfigResult, encodeRunConfig } from "../config/loadConfig.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { decayStepsOf, type ScheduleConfig, warmupStepsOf } from "../config/scheduleConfig.ts"
import type { ResolvedSchedule, ResolvedWsd, Segment } from "../config/scheduleSpec.ts"
import { lrSegments, lrWsd, wsdSegments } from "./scheduleMath.ts"

export * from "../config/scheduleConfig.ts"
export * from "../config/scheduleSpec.ts"
export {
  decayFactor,
  decayStartOf,
  floorOf,
  lrSegment,
  lrSegments,
  lrWsd,
  segmentIndexAt,
  spliceSegments,
  wsdSegments
} from "./scheduleMath.ts"

/**
 * Resolves a decoded configuration against the peak LR (`optimizer.lr`) and the total steps `N`
 * (`steps`). `warmupRatio·N` and `decayRatio·N` are rounded to the nearest step. `constant` resolves to no decay with
 * floor factor 1, so a later `extend` that starts inside a decay keeps its level. Decoding the run
 * configuration checked that the schedule fits `N` (`runLengthProblem`), so this cannot fail;
 * a schedule written in code goes through `decodeSchedule`.
 */
export const resolveSchedule = (config: ScheduleConfig, peakLr: number, totalSteps: number): ResolvedWsd => ({
  _tag: "wsd",
  totalSteps,
  peakLr,
  warmupSteps: warmupStepsOf(config, totalSteps),
  decaySteps: decayStepsOf(config, totalSteps),
  decayShape: config.decayShape,
  minLrFactor: config.kind === "constant" ? 1 : config.minLrFactor
})

/**
 * A schedule written in code — the encoded `schedule` section, e.g. `{ kind: "wsd", warmupSteps: 20 }`
 * — decoded as part of `run` (its steps and peak LR, every rule of a run configuration) and resolved.
 * The error names the field and value, as `--set schedule.…` would.
 */
export const decodeSchedule = (
  schedule: typeof ScheduleConfig.Encoded,
  run: RunConfig
): Result.Result<ResolvedWsd, ConfigError> =>
  Result.map(
    decodeRunConfigResult({ ...encodeRunConfig(run), schedule }),
    (config) => resolveSchedule(config.schedule, config.optimizer.lr, config.steps)
  )

/** The learning rate for step index `t` (0-based; update `s` uses `lr(s − 1)`). Negative `t` reads as 0. */
export const lr = (schedule: ResolvedSchedule, t: number): number => {
  const step = t < 0 ? 0 : t
  return schedule._tag === "wsd" ? lrWsd(schedule, step) : lrSegments(schedule.segments, step)
}

/** The total steps `N` the schedule was resolved against (for a spliced schedule, the configured one). */
export const totalStepsOf = (schedule: ResolvedSchedule): number =>
  schedule._tag === "wsd" ? schedule.totalSteps : schedule.configured.totalSteps

/** The `wsd` spec of the configuration the schedule was resolved from (itself, unless spliced). */
export const configuredOf = (schedule: ResolvedSchedule): ResolvedWsd =>
  schedule._tag === "wsd" ? schedule : schedule.configured

/** The level of the stable phase, to which floor factors apply. */
export const peakLrOf = (schedule: ResolvedSchedule): number => schedule.peakLr

/** The schedule as contiguous segments (a `wsd` spec converted; a spliced one as stored). */
export const segmentsOf = (schedule: ResolvedSchedule): ReadonlyArray<Segment> =>
  schedule._tag === "wsd" ? wsdSegments(schedule) : schedule.segments
