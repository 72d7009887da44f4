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
 */
import { Effect, Schema, SchemaTransformation } from "effect"

export const ScheduleKind = Schema.Literals(["constant", "wsd", "warmup-decay"])
export type ScheduleKind = typeof ScheduleKind.Type

export const DecayShape = Schema.Literals(["linear", "sqrt", "cosine"])
export type DecayShape = typeof DecayShape.Type

/** Decay fraction used by `wsd` when neither `decaySteps` nor `decayRatio` is given. */
export const DEFAULT_DECAY_RATIO = 0.2

/**
 * A configuration that cannot be resolved: `field` is the configuration path (e.g.
 * `schedule.warmupSteps`), `value` the offending value, `reason` what is wrong with it (naming any
 * other field involved, with its value).
 */
export class ScheduleConfigError extends Schema.TaggedError<ScheduleConfigError>()("ScheduleConfigError", {
  field: Schema.String,
  value: Schema.Unknown,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.field} = ${formatValue(this.value)}: ${this.reason}`
  }
}

const formatValue = (value: unknown): string => typeof value === "string" ? JSON.stringify(value) : String(value)

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const UnitInterval = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))

const ScheduleConfigFields = Schema.Struct({
  kind: ScheduleKind.pipe(Schema.withDecodingDefault(Effect.succeed("wsd" as const))),
  warmupSteps: NonNegativeInt.pipe(Schema.withDecodingDefault(Effect.succeed(50))),
  decaySteps: Schema.optionalKey(NonNegativeInt),
  decayRatio: Schema.optionalKey(UnitInterval),
  decayShape: DecayShape.pipe(Schema.withDecodingDefault(Effect.succeed("linear" as const))),
  minLrFactor: UnitInterval.pipe(Schema.withDecodingDefault(Effect.succeed(0.1)))
})

export type ScheduleConfig = typeof ScheduleConfigFields.Type

/**
 * Checks that relate several fields, independent of the run length. Shared by decoding and by
 * `resolveSchedule`, so a configuration built in code is held to the same rules as a decoded one.
 */
export const checkScheduleFields = (config: ScheduleConfig): ScheduleConfigError | undefined => {
  const { kind, decaySteps, decayRatio } = config
  if (decaySteps !== undefined && decayRatio !== undefined) {
    return new ScheduleConfigError({
      field: "schedule.decaySteps",
      value: decaySteps,
      reason: `decaySteps and decayRatio (${decayRatio}) are both set; set only one`
    })
  }
  if (kind !== "wsd") {
    const implied = kind === "constant" ? "has no decay" : "decays from the end of the warm-up to the last step"
    if (decaySteps !== undefined) {
      return new ScheduleConfigError({
        field: "schedule.decaySteps",
        value: decaySteps,
        reason: `schedule.kind ${kind} ${implied}; the decay length cannot be set`
      })
    }
    if (decayRatio !== undefined) {
      return new ScheduleConfigError({
        field: "schedule.decayRatio",
        value: decayRatio,
        reason: `schedule.kind ${kind} ${implied}; the decay length cannot be set`
      })
    }
  }
  return undefined
}

const fillDecayDefault = (config: ScheduleConfig): ScheduleConfig =>
  config.kind === "wsd" && config.decaySteps === undefined && config.decayRatio === undefined
    ? { ...config, decayRatio: DEFAULT_DECAY_RATIO }
    : config

/**
 * The schedule configuration schema. Decoding `{}` yields the reference configuration
 * (`wsd`, 50 warm-up steps, `decayRatio` 0.2, linear decay to 0.1× the peak).
 */
export const ScheduleConfig = ScheduleConfigFields.pipe(
  Schema.decodeTo(
    Schema.toType(ScheduleConfigFields).check(
      Schema.makeFilter((config: ScheduleConfig) => checkScheduleFields(config)?.message)
    ),
    SchemaTransformation.transform({
      decode: fillDecayDefault,
      encode: (config: ScheduleConfig) => config
    })
  )
)

/** The reference configuration of DESIGN.md. */
export const referenceScheduleConfig: ScheduleConfig = Schema.decodeUnknownSync(ScheduleConfig)({})
