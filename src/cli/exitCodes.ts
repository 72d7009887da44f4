import { Schema } from "effect"
import { PlanRejected } from "../resume/plan.ts"
import { renderRejection } from "../resume/renderPlan.ts"

/** Exit codes of `bin/continuum`. */
export const ExitCode = { ok: 0, failed: 1, rejected: 2 } as const

/**
 * A failure while a run was being set up (configuration, data, plan, layers): no step ran, so
 * the CLI exits 2. The wrapped error keeps its own tag and message.
 */
export class SetupFailed extends Schema.TaggedError<SetupFailed>()("SetupFailed", {
  error: Schema.Defect()
}) {
  override get message(): string {
    return describeError(this.error)
  }
}

/** Errors that mean "rejected before any step ran". */
export const rejectedTags: ReadonlySet<string> = new Set([
  "SetupFailed", "ConfigError", "PlanRejected", "PolicyError", "ScheduleConfigError", "ResumeRefused", "RunDirConflict", "SampleOptionInvalid"
])

/** `Tag: message` for tagged errors, the message for plain errors, JSON otherwise. */
export const describeError = (error: unknown): string => {
  if (error instanceof SetupFailed) return describeError(error.error)
  if (error instanceof PlanRejected) return renderRejection(error)
  if (error !== null && typeof error === "object") {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : undefined
    const text = typeof (error as { toString?: unknown }).toString === "function" &&
        (error as object).toString !== Object.prototype.toString
      ? String(error)
      : undefined
    const message = "message" in error && typeof error.message === "string" && error.message !== "" ? error.message : undefined
    const body = message ?? text ?? JSON.stringify(error)
    return tag !== undefined && !body.startsWith(tag) ? `${tag}: ${body}` : body
  }
  return String(error)
}
