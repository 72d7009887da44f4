import { Data, Effect } from "effect"
import { PlanRejected } from "../resume/plan.ts"
import { renderRejection } from "../resume/renderRejection.ts"

/** Exit codes of `bin/continuum`. */
export const ExitCode = { ok: 0, failed: 1, rejected: 2 } as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * A failure while a run was being set up (configuration, plan, layers): no step ran, so the CLI
 * exits 2 whatever the cause. The wrapped error keeps its type, tag and message.
 */
export class SetupFailed<E> extends Data.TaggedError("SetupFailed")<{
  readonly error: E
  /** Print every tensor of a rejected plan, not only its causes (`--verbose`). */
  readonly verbose?: boolean
}> {}

/**
 * Marks the failures of `effect` as failures of the setup, except those `keep` picks: they keep
 * their own tag and so their own exit code (an environment failure rather than a rejection).
 */
export const duringSetupExcept = <A, E, R, K extends E>(
  effect: Effect.Effect<A, E, R>,
  keep: (error: E) => error is K,
  options: { readonly verbose?: boolean } = {}
): Effect.Effect<A, SetupFailed<Exclude<E, K>> | K, R> =>
  Effect.mapError(
    effect,
    (error) =>
      keep(error) ? error : new SetupFailed({ error: error as Exclude<E, K>, verbose: options.verbose ?? false })
  )

/** Marks every failure of `effect` as a failure of the setup. */
export const duringSetup = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly verbose?: boolean } = {}
): Effect.Effect<A, SetupFailed<E>, R> =>
  Effect.mapError(effect, (error) => new SetupFailed({ error, verbose: options.verbose ?? false }))

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
