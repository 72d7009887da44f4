import { Effect, Schema } from "effect"
import { NonNegativeFinite } from "../config/primitives.ts"

/**
 * A resume policy: one action per component. The named policies (exact, continue, transfer) are
 * presets of it. The step and schedule actions are tied in the type: a schedule that continues the
 * old one (keep, extend, rewarm, rebuild) needs the step counter kept, and a restarted schedule
 * needs it reset — any other pairing cannot be written down, in TypeScript or in a policy file.
 */

const ModelAction = Schema.Literals(["load", "init"])
const OptimizerAction = Schema.Literals(["load", "reset"])
const DataAction = Schema.Literals(["load", "reset"])

/** Which tensors a `load` takes; glob patterns with `*` over parameter names. */
export const TensorSelection = Schema.Struct({
  include: Schema.optionalKey(Schema.Array(Schema.String)),
  exclude: Schema.optionalKey(Schema.Array(Schema.String)),
  /** Strict: every selected model tensor must exist in the source with the same shape. */
  strict: Schema.optionalKey(Schema.Boolean)
})
export type TensorSelection = typeof TensorSelection.Type

const common = {
  model: ModelAction,
  optimizer: OptimizerAction,
  data: DataAction,
  tensors: Schema.optionalKey(TensorSelection),
  /** Largest accepted |S'(k)/S(k) − 1| for schedule `rebuild` (default 0.01). */
  tolerance: Schema.optionalKey(NonNegativeFinite),
  /** Accept a `rebuild` whose LR jumps at the resume step by more than the tolerance. */
  allowDiscontinuity: Schema.optionalKey(Schema.Boolean)
}

export const ContinuingPolicy = Schema.Struct({
  ...common,
  step: Schema.Literal("keep"),
  schedule: Schema.Literals(["keep", "extend", "rewarm", "rebuild"])
})

export const RestartingPolicy = Schema.Struct({
  ...common,
  step: Schema.Literal("reset"),
  schedule: Schema.Literal("restart")
})

export const ResumePolicy = Schema.Union([ContinuingPolicy, RestartingPolicy])
export type ResumePolicy = typeof ResumePolicy.Type

export const presets = {
  exact: { model: "load", optimizer: "load", schedule: "keep", data: "load", step: "keep" },
  continue: { model: "load", optimizer: "load", schedule: "extend", data: "load", step: "keep" },
  transfer: { model: "load", optimizer: "reset", schedule: "restart", data: "reset", step: "reset" }
} as const satisfies Record<string, ResumePolicy>

export type PresetName = keyof typeof presets

/**
 * The policy that applies a new schedule or LR at once — torchtitan's behaviour on a changed step
 * count, made explicit: `continue` extends the old schedule at its old level (a changed
 * `optimizer.lr` is not applied), `rewarm` starts from the old LR, and `rebuild` applies the
 * configured schedule from the resume step, refusing the jump unless it is allowed, as here.
 */
export const rebuildAllowingJump = {
  model: "load",
  optimizer: "load",
  schedule: "rebuild",
  data: "load",
  step: "keep",
  allowDiscontinuity: true
} as const satisfies ResumePolicy

/** The policy's name for lineage records: a preset's name when it is one, else "custom". */
export const policyName = (policy: ResumePolicy): string => {
  for (const [name, preset] of Object.entries(presets)) {
    if (
      preset.model === policy.model && preset.optimizer === policy.optimizer && preset.schedule === policy.schedule &&
      preset.data === policy.data && preset.step === policy.step
    ) return name
  }
  return "custom"
}

export class PolicyError extends Schema.TaggedError<PolicyError>()("PolicyError", {
  source: Schema.String,
  message: Schema.String
}) {}

/** Decodes a policy from JSON data (a policy file); errors name the field. */
export const decodePolicy = (source: string, input: unknown): Effect.Effect<ResumePolicy, PolicyError> =>
  Schema.decodeUnknownEffect(ResumePolicy)(input, { onExcessProperty: "error" }).pipe(
    Effect.mapError((e) => new PolicyError({ source, message: e.message }))
  )
