import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

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
