import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/** Exit codes of `bin/continuum`. */
export const ExitCode = { ok: 0, failed: 1, rejected: 2 } as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * A failure while a run was being set up (configuration, plan, layers): no step ran, so the CLI
 * exits 2 whatever the cause. The wrapped error keeps its type, tag and message.
 */
export class SetupFailed<E> extends Data.TaggedError("SetupFailed")<{ readonly error: E }> {}

/** Marks every failure of `effect` as a failure of the setup. */
export const duringSetup = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, SetupFailed<E>, R> =>
  Effect.mapError(effect, (error) => new SetupFailed({ error }))
