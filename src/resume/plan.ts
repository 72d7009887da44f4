/**
 * The resume plan — what a resumed run loads, resets and reconciles — and the reasons a plan is
 * rejected. Both are Schema data, so a plan can be printed as JSON, stored with a run and read back.
 */
import { Schema } from "effect"
import { NonNegativeInt as Count } from "../config/primitives.ts"
import { ResolvedSchedule } from "../config/scheduleSpec.ts"
import { ConfigChange } from "./changes.ts"
import { ResumePolicy } from "./policy.ts"
import {
  InvalidReconcileInput,
  RewarmDoesNotFit,
  ScheduleAction,
  ScheduleDifference,
  ScheduleDiscontinuity,
  ScheduleKeepMismatch
} from "./reconcile.ts"

const Shape = Schema.Array(Count)

const OptimizerKind = Schema.Literals(["adamw", "sgd"])

export const PlanSource = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("checkpoint"), location: Schema.String, runId: Schema.String, step: Count }),
  Schema.Struct({ kind: Schema.Literal("weights"), file: Schema.String })
])
export type PlanSource = typeof PlanSource.Type

export const ModelPlan = Schema.Struct({
  action: Schema.Literals(["load", "init"]),
  /** Parameters taken from the source, in canonical order. */
  load: Schema.Array(Schema.String),
  /** Parameters initialized fresh from the seed, in canonical order. */
  init: Schema.Array(Schema.String)
})
export type ModelPlan = typeof ModelPlan.Type

export const OptimizerPlan = Schema.Struct({
  action: Schema.Literals(["load", "reset"]),
  /** The optimizer of the new run. */
  kind: OptimizerKind,
  /** Updates the restored moments have seen (bias correction); 0 after reset. */
  step: Count
})
export type OptimizerPlan = typeof OptimizerPlan.Type

export const SchedulePlan = Schema.Struct({
  action: ScheduleAction,
  /** `S(k)`, the LR the stored schedule gives at the resume step; `null` without one (weights file). */
  lrBefore: Schema.NullOr(Schema.Number),
  /** The LR of the first update of the resumed run (`schedule(start)`). */
  lrAfter: Schema.Number,
  /** `lrAfter / lrBefore`; `null` without `lrBefore`. */
  jumpRatio: Schema.NullOr(Schema.Number),
  /** The schedule to run with, evaluated from the start step on. */
  schedule: ResolvedSchedule
})
export type SchedulePlan = typeof SchedulePlan.Type

export const DataPlan = Schema.Struct({
  action: Schema.Literals(["load", "reset"]),
  /** Global sample index the next step starts at (the checkpoint's cursor for load, 0 for reset). */
  cursor: Count,
  /** Run counters carried on: the checkpoint's under step keep, 0 under step reset. */
  samplesSeen: Count,
  tokensSeen: Count,
  /** How the step↔sample mapping changes when the global batch changed under load. */
  note: Schema.optionalKey(Schema.String)
})
export type DataPlan = typeof DataPlan.Type

export const StepPlan = Schema.Struct({
  action: Schema.Literals(["keep", "reset"]),
  /** Updates already done when the run starts: the next update is step `start + 1`. */
  start: Count
})
export type StepPlan = typeof StepPlan.Type

export const ResumePlan = Schema.Struct({
  policy: ResumePolicy,
  /** A preset's name, or "custom". */
  policyName: Schema.String,
  source: PlanSource,
  /** The checkpoint's step `k` (0 for a weights file). */
  resumeStep: Count,
  /** `k` under step keep, 0 under step reset. */
  startStep: Count,
  /** The new total `N'`. */
  totalSteps: Count,
  model: ModelPlan,
  optimizer: OptimizerPlan,
  schedule: SchedulePlan,
  data: DataPlan,
  step: StepPlan,
  changedFields: Schema.Array(ConfigChange),
  warnings: Schema.Array(Schema.String)
})
export type ResumePlan = typeof ResumePlan.Type

const resumePlanJson = Schema.toCodecJson(ResumePlan)

/** The plan as a JSON value (non-finite numbers, e.g. an infinite jump ratio, become strings). */
export const planToJson = (plan: ResumePlan): Schema.Json => Schema.encodeSync(resumePlanJson)(plan) as Schema.Json

/** Reads a plan back from `planToJson`'s output. */
export const planFromJson = (json: unknown): ResumePlan => Schema.decodeUnknownSync(resumePlanJson)(json)

const ValueChange = Schema.Struct({ path: Schema.String, old: Schema.Json, new: Schema.Json })

/** Every reason a plan can be rejected for, each with the values that explain it. */
export const RejectionReason = Schema.TaggedUnion({
  /** A policy field holds a value that is not one of its actions (a policy built without its type). */
  InvalidPolicy: { field: Schema.String, value: Schema.String, expected: Schema.String },
  /** Step and schedule actions that do not go together (keep…rebuild need step keep; restart step reset). */
  StepScheduleMismatch: { step: Schema.String, schedule: Schema.String },
  ResumeStepBeyondTotal: { resumeStep: Count, totalSteps: Count },
  /** Exact resume with trajectory-relevant changes. */
  TrajectoryChanged: { fields: Schema.Array(ValueChange) },
  /** The manifest's trajectory fingerprint does not match its own configuration. */
  TrajectoryFingerprintMismatch: { stored: Schema.String, computed: Schema.String },
  /** The checkpoint's configuration does not decode, and the plan needs to compare against it. */
  CheckpointConfigInvalid: { detail: Schema.String },
  /** The checkpoint's non-tensor state does not decode, and the plan needs it. */
  CheckpointStateInvalid: { detail: Schema.String },
  /** A file the plan needs is missing or corrupt (from verification). */
  ComponentCorrupt: { component: Schema.String, file: Schema.String, reason: Schema.String, detail: Schema.String },
  /** A weights file holds weights only. */
  ComponentNotInWeights: {
    component: Schema.Literals(["optimizer", "data", "schedule"]),
    action: Schema.String,
    file: Schema.String
  },
  /** A selected parameter that the source does not hold (strict selection). */
  ModelTensorMissing: { tensor: Schema.String, shape: Shape },
  /** A selected parameter whose shape differs in the source (strict selection). */
  ModelShapeMismatch: { tensor: Schema.String, old: Shape, new: Shape },
  OptimizerLoadWithModelInit: {},
  /** Optimizer moments loaded for parameters that start fresh. */
  OptimizerLoadWithFreshTensors: { tensors: Schema.Array(Schema.String) },
  OptimizerKindChanged: { old: Schema.String, new: Schema.String },
  /** Optimizer state tensors missing (`old` null), extra (`new` null) or of another shape. */
  OptimizerShapesChanged: {
    tensors: Schema.Array(
      Schema.Struct({ tensor: Schema.String, old: Schema.NullOr(Shape), new: Schema.NullOr(Shape) })
    )
  },
  DatasetChanged: { old: Schema.String, new: Schema.String },
  /** The sample permutation is a function of the seed: a new seed makes the cursor meaningless. */
  DataSeedChanged: { old: Count, new: Count },
  ScheduleKeepMismatch: { resumeStep: Count, differences: Schema.Array(ScheduleDifference) },
  ScheduleDiscontinuity: {
    resumeStep: Count,
    lrBefore: Schema.Number,
    lrAfter: Schema.Number,
    jumpRatio: Schema.Number,
    tolerance: Schema.Number
  },
  RewarmDoesNotFit: { resumeStep: Count, warmupSteps: Count, totalSteps: Count, reason: Schema.String },
  InvalidReconcileInput: { field: Schema.String, value: Schema.String, reason: Schema.String }
})
export type RejectionReason = typeof RejectionReason.Type

/** A JSON value as shown to a user; `null` (not set) as "(unset)". */
export const showValue = (value: unknown): string =>
  value === null || value === undefined ? "(unset)" : JSON.stringify(value)

export const showShape = (shape: ReadonlyArray<number>): string => `[${shape.join(", ")}]`

/** One line naming the reason and its values. */
export const describeReason = (reason: RejectionReason): string =>
  RejectionReason.match(reason, {
    InvalidPolicy: (r) => `policy ${r.field} = ${r.value} is not one of ${r.expected}`,
    StepScheduleMismatch: (r) =>
      r.step === "reset"
        ? `schedule ${r.schedule} continues the stored schedule and needs step keep, not step reset`
        : `schedule ${r.schedule} starts a fresh schedule at step 0 and needs step reset, not step ${r.step}`,
    ResumeStepBeyondTotal: (r) =>
      `resume step ${r.resumeStep} is not before the new total steps ${r.totalSteps}; nothing is left to run`,
    TrajectoryChanged: (r) =>
      `exact resume needs an unchanged trajectory; changed: ${
        r.fields.map((f) => `${f.path} ${showValue(f.old)} → ${showValue(f.new)}`).join(", ")
      }`,
    TrajectoryFingerprintMismatch: (r) =>
      `the manifest's trajectory fingerprint ${r.stored} does not match its configuration (${r.computed})`,
    CheckpointConfigInvalid: (r) => `the checkpoint's configuration does not decode: ${r.detail}`,
    CheckpointStateInvalid: (r) => `the checkpoint's state does not decode: ${r.detail}`,
    ComponentCorrupt: (r) => `${r.component} file ${r.file} is unusable (${r.reason}): ${r.detail}`,
    ComponentNotInWeights: (r) => `${r.component} ${r.action} needs a checkpoint; ${r.file} holds weights only`,
    ModelTensorMissing: (r) => `model load: parameter ${r.tensor} ${showShape(r.shape)} is not in the source`,
    ModelShapeMismatch: (r) =>
      `model load: parameter ${r.tensor} has shape ${showShape(r.old)} in the source and ${
        showShape(r.new)
      } in the new model`,
    OptimizerLoadWithModelInit: () =>
      "optimizer load with model init: the moments belong to weights that are not loaded",
    OptimizerLoadWithFreshTensors: (r) =>
      `optimizer load: the moments of ${r.tensors.join(", ")} belong to weights that are initialized fresh`,
    OptimizerKindChanged: (r) =>
      `optimizer load: optimizer.kind ${r.old} → ${r.new}; the state of ${r.old} cannot drive ${r.new}`,
    OptimizerShapesChanged: (r) =>
      `optimizer load: state tensors changed: ${
        r.tensors.map((t) =>
          t.old === null
            ? `${t.tensor} ${showShape(t.new ?? [])} not in the checkpoint`
            : t.new === null
            ? `${t.tensor} ${showShape(t.old)} not in the new model`
            : `${t.tensor} ${showShape(t.old)} → ${showShape(t.new)}`
        ).join(", ")
      }`,
    DatasetChanged: (r) =>
      `data load: the dataset fingerprint changed (${r.old} → ${r.new}); the cursor means other samples`,
    DataSeedChanged: (r) => `data load: seed ${r.old} → ${r.new}; the sample permutation depends on the seed`,
    // The schedule reasons carry the fields of reconcile.ts's errors; their wording is reused.
    ScheduleKeepMismatch: ({ _tag, ...fields }) => new ScheduleKeepMismatch(fields).message,
    ScheduleDiscontinuity: ({ _tag, ...fields }) => new ScheduleDiscontinuity(fields).message,
    RewarmDoesNotFit: ({ _tag, ...fields }) => new RewarmDoesNotFit(fields).message,
    InvalidReconcileInput: ({ _tag, ...fields }) => new InvalidReconcileInput(fields).message
  })

/**
 * What the planner compared when it rejected a plan: the policy, the configuration changes against
 * the checkpoint and the size of the new model. It explains the reasons (which field caused which
 * of them) when they are shown grouped by cause; the reasons alone decide the rejection.
 */
export const RejectionContext = Schema.Struct({
  /** Absent when the policy itself is invalid (built without its type). */
  policy: Schema.optionalKey(ResumePolicy),
  changedFields: Schema.Array(ConfigChange),
  /** Parameters of the new model. */
  parameters: Count
})
export type RejectionContext = typeof RejectionContext.Type

/** The plan is rejected before any step runs; `reasons` lists every reason that applies. */
export class PlanRejected extends Schema.TaggedError<PlanRejected>()("PlanRejected", {
  reasons: Schema.Array(RejectionReason),
  context: Schema.optionalKey(RejectionContext)
}) {
  override get message(): string {
    const count = this.reasons.length === 1 ? "1 reason" : `${this.reasons.length} reasons`
    return `resume plan rejected (${count}):\n${this.reasons.map((r) => `- ${describeReason(r)}`).join("\n")}`
  }
}
