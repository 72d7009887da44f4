/**
 * The typed errors of the resume test kit: a stop point out of range, a run that could not be
 * trained, the first difference or broken law a check found, and a rejection that did not happen
 * or was not clean.
 */
import { Schema } from "effect"
import type { ConfigError } from "../config/ConfigError.ts"

const Step = Schema.NullOr(Schema.Int)

export class InvalidStopPoint extends Schema.TaggedError<InvalidStopPoint>()("InvalidStopPoint", {
  stopAt: Schema.Number,
  totalSteps: Schema.Int,
  reason: Schema.String
}) {
  override get message(): string {
    return `stop point ${this.stopAt}: ${this.reason} (the run has ${this.totalSteps} steps)`
  }
}

/** One of the runs a check trains could not be built or failed while training. */
export class ResumeRunFailed extends Schema.TaggedError<ResumeRunFailed>()("ResumeRunFailed", {
  run: Schema.Literals(["uninterrupted", "interrupted", "resumed"]),
  stopAt: Step,
  error: Schema.Defect()
}) {
  override get message(): string {
    const at = this.stopAt === null ? "" : ` (stop point ${this.stopAt})`
    const inner = this.error as { readonly _tag?: unknown; readonly message?: unknown }
    const text = typeof inner?.message === "string" ? inner.message : String(this.error)
    return `the ${this.run} run${at} failed: ${typeof inner?._tag === "string" ? `${inner._tag}: ` : ""}${text}`
  }
}

/** Exact resume differs from the uninterrupted run; the first difference found. */
export class ResumeMismatch extends Schema.TaggedError<ResumeMismatch>()("ResumeMismatch", {
  stopAt: Schema.Int,
  /** The step the difference belongs to (`null` when it is not tied to one). */
  step: Step,
  /** What differs: `loss`, `model.<tensor>[i]`, `state.data.cursor`, `metrics.jsonl line 7`, … */
  field: Schema.String,
  /** The uninterrupted run's value, and the resumed run's. */
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message(): string {
    const at = this.step === null ? "" : ` at step ${this.step}`
    return `exact resume from step ${this.stopAt} differs from the uninterrupted run${at}: ` +
      `${this.field} is ${this.actual}, expected ${this.expected}`
  }
}

/**
 * The laws `checkPolicyLaws` checks:
 * - `model-load`: loaded tensors equal the checkpoint's; tensors not loaded (model init, or left
 *   out of a transfer's selection) equal a fresh initialization from the new seed.
 * - `optimizer-state`: reset starts from zero moments at optimizer step 0; load restores the
 *   checkpoint's moments and step.
 * - `step-counter`: updates continue at k + 1 under step keep, at 1 under step reset, to the new total.
 * - `lr-continuity`: keep, extend and rewarm continue at the stored LR (|lr_after(k) − S(k)| ≤
 *   tolerance); rebuild jumps by at most the policy's tolerance unless the discontinuity is allowed.
 * - `lr-restart`: restart's first LR is the new schedule's LR at step 0.
 * - `lr-nonnegative`: no update, before or after the resume, uses a negative or non-finite LR.
 * - `data-cursor`: the cursor stored at k is k·B; after the resume every checkpoint's cursor is
 *   the start cursor (k's under data load, 0 under reset) plus B' per update: never back, no gap.
 */
export const PolicyLaw = Schema.Literals([
  "model-load",
  "optimizer-state",
  "step-counter",
  "lr-continuity",
  "lr-restart",
  "lr-nonnegative",
  "data-cursor"
])
export type PolicyLaw = typeof PolicyLaw.Type

export class PolicyLawViolated extends Schema.TaggedError<PolicyLawViolated>()("PolicyLawViolated", {
  law: PolicyLaw,
  stopAt: Schema.Int,
  step: Step,
  field: Schema.String,
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message(): string {
    const at = this.step === null ? "" : ` at step ${this.step}`
    return `law ${this.law} broken after resuming from step ${this.stopAt}${at}: ${this.field} is ${this.actual}, expected ${this.expected}`
  }
}

/** A resume that should have been rejected was accepted. */
export class ResumeNotRejected extends Schema.TaggedError<ResumeNotRejected>()("ResumeNotRejected", {
  runDir: Schema.String,
  policy: Schema.String
}) {
  override get message(): string {
    return `the resume of ${this.runDir} with policy ${this.policy} was accepted; expected PlanRejected`
  }
}

/** A rejected start changed the run directory. */
export class RejectionWroteFiles extends Schema.TaggedError<RejectionWroteFiles>()("RejectionWroteFiles", {
  runDir: Schema.String,
  files: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `a rejected start changed ${this.runDir}: ${this.files.join(", ")}`
  }
}

export type ResumeCheckError = InvalidStopPoint | ResumeRunFailed | ResumeMismatch | ConfigError
