/**
 * Learning-rate schedules: configuration (Schema data), resolution against a run's total steps into
 * a concrete spec, and the pure `lr(schedule, t)`.
 *
 * Step convention (DESIGN.md): update `s` (1…N) uses `lr(s − 1)`, so `t` runs over 0…N−1 in a run.
 * Past the end the LR stays where the schedule ended (the decay progress is clamped).
 */
import { Result } from "effect"
import { checkScheduleFields, DEFAULT_DECAY_RATIO, type ScheduleConfig, ScheduleConfigError } from "../config/scheduleConfig.ts"
import { lrSegments, lrWsd, wsdSegments } from "./scheduleMath.ts"
import type { ResolvedSchedule, ResolvedWsd, Segment } from "../config/scheduleSpec.ts"

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

const isNonNegativeInt = (x: number): boolean => Number.isInteger(x) && x >= 0
const isUnit = (x: number): boolean => Number.isFinite(x) && x >= 0 && x <= 1

const fail = (field: string, value: unknown, reason: string): Result.Result<never, ScheduleConfigError> =>
  Result.fail(new ScheduleConfigError({ field, value, reason }))

/** Per-field checks, repeated here because a configuration may be built in code without decoding. */
const checkFieldValues = (config: ScheduleConfig): ScheduleConfigError | undefined => {
  const bad = (field: string, value: unknown, reason: string) => new ScheduleConfigError({ field, value, reason })
  if (!isNonNegativeInt(config.warmupSteps)) {
    return bad("schedule.warmupSteps", config.warmupSteps, "must be a non-negative integer")
  }
  if (config.decaySteps !== undefined && !isNonNegativeInt(config.decaySteps)) {
    return bad("schedule.decaySteps", config.decaySteps, "must be a non-negative integer")
  }
  if (config.decayRatio !== undefined && !isUnit(config.decayRatio)) {
    return bad("schedule.decayRatio", config.decayRatio, "must be between 0 and 1")
  }
  if (!isUnit(config.minLrFactor)) return bad("schedule.minLrFactor", config.minLrFactor, "must be between 0 and 1")
  return checkScheduleFields(config)
}

/**
 * Resolves a configuration against the peak LR (`optimizer.lr`) and the total steps `N` (`steps`).
 * `decayRatio·N` is rounded to the nearest step. `constant` resolves to no decay with floor factor 1,
 * so a later `extend` that starts inside a decay keeps its level. Rejects, naming the field and
 * value: a non-positive or non-finite peak, `N < 1`, negative or fractional step counts, factors
 * outside [0, 1], both decay lengths set, a decay longer than the run, and a warm-up that ends
 * after the decay starts (`W > N − D`).
 */
export const resolveSchedule = (
  config: ScheduleConfig,
  peakLr: number,
  totalSteps: number
): Result.Result<ResolvedWsd, ScheduleConfigError> => {
  if (!Number.isFinite(peakLr) || peakLr <= 0) return fail("optimizer.lr", peakLr, "must be a positive finite number")
  if (!Number.isInteger(totalSteps) || totalSteps < 1) return fail("steps", totalSteps, "must be a positive integer")
  const invalid = checkFieldValues(config)
  if (invalid !== undefined) return Result.fail(invalid)

  const W = config.warmupSteps
  if (W > totalSteps) {
    return fail("schedule.warmupSteps", W, `longer than the run (steps ${totalSteps})`)
  }
  let D: number
  switch (config.kind) {
    case "constant":
      D = 0
      break
    case "warmup-decay":
      D = totalSteps - W
      break
    case "wsd": {
      if (config.decaySteps !== undefined) {
        D = config.decaySteps
        if (D > totalSteps) return fail("schedule.decaySteps", D, `longer than the run (steps ${totalSteps})`)
      } else {
        D = Math.round((config.decayRatio ?? DEFAULT_DECAY_RATIO) * totalSteps)
      }
      if (W > totalSteps - D) {
        const decay = config.decaySteps !== undefined
          ? `decaySteps ${D}`
          : `decayRatio ${config.decayRatio ?? DEFAULT_DECAY_RATIO} → ${D} steps`
        return fail(
          "schedule.warmupSteps",
          W,
          `the warm-up ends after the decay starts at step ${totalSteps - D} (steps ${totalSteps}, ${decay})`
        )
      }
      break
    }
  }
  return Result.succeed({
    _tag: "wsd",
    totalSteps,
    peakLr,
    warmupSteps: W,
    decaySteps: D,
    decayShape: config.decayShape,
    minLrFactor: config.kind === "constant" ? 1 : config.minLrFactor
  })
}

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
