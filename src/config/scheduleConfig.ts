/**
 * Learning-rate schedule configuration (the `schedule.*` fields of a run configuration).
 *
 * Kinds:
 * - `wsd`: warm-up, stable, decay over the last `decaySteps` (or `decayRatio·N`) steps.
 * - `warmup-decay`: torchtitan's original default; the decay starts right after the warm-up
 *   (`N − D = W`), so the decay length is implied and may not be configured.
 * - `constant`: warm-up, then the peak forever; no decay, so decay length and floor do not apply.
 *
 * The decay length of `wsd` is given either absolutely (`decaySteps`) or as a fraction of the total
 * (`decayRatio`), never both: setting both is rejected rather than resolved by precedence, because a
 * silent winner would hide a configuration mistake. When neither is given, decoding fills in
 * `decayRatio: 0.2` (the reference configuration).
 *
 * The warm-up likewise: `warmupSteps` (absolute) or `warmupRatio` (a fraction of the total), never
 * both; when neither is given, decoding fills in `warmupRatio: 1/12`, which resolves to the reference
 * configuration's 50 steps at 600 and keeps a short trial run (`--set steps=20`) valid. A fraction
 * is resolved once, against the run's total, to the integer `W` that the schedule, the checkpoint
 * and every comparison use (see `warmupStepsOf`).
 */
import { Effect, Schema, SchemaTransformation } from "effect"
import { NonNegativeInt, UnitInterval } from "./primitives.ts"

export const ScheduleKind = Schema.Literals(["constant", "wsd", "warmup-decay"])
export type ScheduleKind = typeof ScheduleKind.Type

export const DecayShape = Schema.Literals(["linear", "sqrt", "cosine"])
export type DecayShape = typeof DecayShape.Type

/** Decay fraction used by `wsd` when neither `decaySteps` nor `decayRatio` is given. */
const DEFAULT_DECAY_RATIO = 0.2

/**
 * Warm-up fraction used when neither `warmupSteps` nor `warmupRatio` is given: 1/12 of the run,
 * exactly 50 steps of the reference run's 600 (`Math.round(600 / 12)`).
 */
export const DEFAULT_WARMUP_RATIO = 1 / 12

const ScheduleConfigFields = Schema.Struct({
  kind: ScheduleKind.pipe(Schema.withDecodingDefault(Effect.succeed("wsd" as const))),
  warmupSteps: Schema.optionalKey(NonNegativeInt),
  warmupRatio: Schema.optionalKey(UnitInterval),
  decaySteps: Schema.optionalKey(NonNegativeInt),
  decayRatio: Schema.optionalKey(UnitInterval),
  decayShape: DecayShape.pipe(Schema.withDecodingDefault(Effect.succeed("linear" as const))),
  minLrFactor: UnitInterval.pipe(Schema.withDecodingDefault(Effect.succeed(0.1)))
})

export type ScheduleConfig = typeof ScheduleConfigFields.Type

/** A rule the schedule breaks: the field to blame and why, naming any other field involved with its value. */
export interface ScheduleProblem {
  readonly field: "warmupSteps" | "warmupRatio" | "decaySteps" | "decayRatio"
  readonly reason: string
}

/** The problem as a schema issue at `schedule.<field>`, `prefix` being the path to the schedule section. */
export const scheduleIssue = (prefix: ReadonlyArray<string>, problem: ScheduleProblem | undefined) =>
  problem && { path: [...prefix, problem.field], issue: problem.reason }

/** Rules that relate the schedule's own fields, whatever the run length. */
const fieldsProblem = (config: ScheduleConfig): ScheduleProblem | undefined => {
  const { kind, decaySteps, decayRatio, warmupSteps, warmupRatio } = config
  if (warmupSteps !== undefined && warmupRatio !== undefined) {
    return { field: "warmupSteps", reason: `warmupSteps and warmupRatio (${warmupRatio}) are both set; set only one` }
  }
  if (decaySteps !== undefined && decayRatio !== undefined) {
    return { field: "decaySteps", reason: `decaySteps and decayRatio (${decayRatio}) are both set; set only one` }
  }
  if (kind !== "wsd") {
    const implied = kind === "constant" ? "has no decay" : "decays from the end of the warm-up to the last step"
    const reason = `schedule.kind ${kind} ${implied}; the decay length cannot be set`
    if (decaySteps !== undefined) return { field: "decaySteps", reason }
    if (decayRatio !== undefined) return { field: "decayRatio", reason }
  }
  return undefined
}

/**
 * `W`, the warm-up length in a run of `totalSteps` (`N`) steps: `warmupSteps`, or `warmupRatio·N`
 * rounded to the nearest step (halves up), as `decayRatio` is. Only this integer is used after
 * decoding: the resolved schedule, the checkpoint and the comparisons of a resume hold `W`, so a
 * resume that changes `N` sees the warm-up change as `schedule.warmupSteps W → W'`.
 */
export const warmupStepsOf = (config: ScheduleConfig, totalSteps: number): number =>
  config.warmupSteps ?? Math.round((config.warmupRatio ?? DEFAULT_WARMUP_RATIO) * totalSteps)

/** `D`, the decay length in a run of `totalSteps` (`N`) steps; `decayRatio·N` is rounded to the nearest step. */
export const decayStepsOf = (config: ScheduleConfig, totalSteps: number): number => {
  switch (config.kind) {
    case "constant":
      return 0
    case "warmup-decay":
      return totalSteps - warmupStepsOf(config, totalSteps)
    case "wsd":
      return config.decaySteps ?? Math.round((config.decayRatio ?? DEFAULT_DECAY_RATIO) * totalSteps)
  }
}

/**
 * How the schedule fails to fit a run of `totalSteps` steps, if it does: a warm-up or a decay
 * longer than the run, or a warm-up that ends after the decay starts (`W > N − D`). A run
 * configuration checks this when it is decoded (see `consistency.ts`), so resolving a decoded
 * configuration cannot fail.
 */
export const runLengthProblem = (config: ScheduleConfig, totalSteps: number): ScheduleProblem | undefined => {
  const W = warmupStepsOf(config, totalSteps)
  const warmupField = config.warmupSteps === undefined ? "warmupRatio" : "warmupSteps"
  const warmup = config.warmupSteps === undefined
    ? ` (warmupRatio ${config.warmupRatio ?? DEFAULT_WARMUP_RATIO} → ${W} steps)`
    : ""
  if (W > totalSteps) return { field: warmupField, reason: `longer than the run (steps ${totalSteps})${warmup}` }
  if (config.kind !== "wsd") return undefined
  const D = decayStepsOf(config, totalSteps)
  if (config.decaySteps !== undefined && D > totalSteps) {
    return { field: "decaySteps", reason: `longer than the run (steps ${totalSteps})` }
  }
  if (W > totalSteps - D) {
    const decay = config.decaySteps !== undefined
      ? `decaySteps ${D}`
      : `decayRatio ${config.decayRatio ?? DEFAULT_DECAY_RATIO} → ${D} steps`
    return {
      field: warmupField,
      reason: `the warm-up${warmup} ends after the decay starts at step ${
        totalSteps - D
      } (steps ${totalSteps}, ${decay})`
    }
  }
  return undefined
}

const fillDefaults = (config: ScheduleConfig): ScheduleConfig => {
  const warmed = config.warmupSteps === undefined && config.warmupRatio === undefined
    ? { ...config, warmupRatio: DEFAULT_WARMUP_RATIO }
    : config
  return warmed.kind === "wsd" && warmed.decaySteps === undefined && warmed.decayRatio === undefined
    ? { ...warmed, decayRatio: DEFAULT_DECAY_RATIO }
    : warmed
}

/**
 * The schedule configuration schema. Decoding `{}` yields the reference configuration
 * (`wsd`, `warmupRatio` 1/12 — 50 steps of 600 —, `decayRatio` 0.2, linear decay to 0.1× the peak).
 */
export const ScheduleConfig = ScheduleConfigFields.pipe(
  Schema.decodeTo(
    Schema.toType(ScheduleConfigFields).check(
      Schema.makeFilter((config: ScheduleConfig) => scheduleIssue([], fieldsProblem(config)))
    ),
    SchemaTransformation.transform({
      decode: fillDefaults,
      encode: (config: ScheduleConfig) => config
    })
  )
)

/** The reference configuration (docs/design.md). */
export const referenceScheduleConfig: ScheduleConfig = Schema.decodeUnknownSync(ScheduleConfig)({})
