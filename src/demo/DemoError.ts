import { Schema } from "effect"

/**
 * The demo could not do what it shows: its output directory holds files it did not write, a
 * variant failed while training, or the planner accepted a variant the demo expects it to reject.
 * `variant` names the part of the demo (e.g. `baseline`, `rebuild`, `out`); `reason` says what
 * went wrong, with the values involved.
 */
export class DemoError extends Schema.TaggedError<DemoError>()("DemoError", {
  variant: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `demo ${this.variant}: ${this.reason}`
  }
}

/** A one-line description of any failure, for a DemoError's reason. */
export const describeFailure = (error: unknown): string => {
  if (error !== null && typeof error === "object") {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : undefined
    const message = "message" in error && typeof error.message === "string" && error.message !== ""
      ? error.message
      : undefined
    const body = message ?? String(error)
    return tag !== undefined && !body.startsWith(tag) ? `${tag}: ${body}` : body
  }
  return String(error)
}
