/**
 * The one line the CLI prints for a failed command. Its own module, loaded only when a command
 * failed: rendering a rejected plan needs the planner's modules, which a successful start skips.
 */
import { PlanRejected } from "../resume/plan.ts"
import { renderRejection } from "../resume/renderRejection.ts"
import { SetupFailed } from "./exitCodes.ts"

/** `Tag: message` for tagged errors, the message for plain errors, JSON otherwise. */
export const describeError = (error: unknown): string => {
  if (error instanceof SetupFailed) {
    return error.error instanceof PlanRejected
      ? renderRejection(error.error, { verbose: error.verbose === true })
      : describeError(error.error)
  }
  if (error instanceof PlanRejected) return renderRejection(error)
  if (error !== null && typeof error === "object") {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : undefined
    const text = typeof (error as { toString?: unknown }).toString === "function" &&
        (error as object).toString !== Object.prototype.toString
      ? String(error)
      : undefined
    const message = "message" in error && typeof error.message === "string" && error.message !== ""
      ? error.message
      : undefined
    const body = message ?? text ?? JSON.stringify(error)
    return tag !== undefined && !body.startsWith(tag) ? `${tag}: ${body}` : body
  }
  return String(error)
}
