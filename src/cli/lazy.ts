import * as Effect from "effect/Effect"

/**
 * Runs `use` on a module imported when the command runs, not when the CLI starts: `--version`,
 * `--help` and light commands such as `inspect` then never load the trainer, gpu.js or vega.
 * The module's types are known statically, so the command's error type still reaches the
 * exhaustive exit-code record in main.ts. A module that fails to load is a defect.
 */
export const whenRun = <M, A, E, R>(
  load: () => Promise<M>,
  use: (module: M) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.flatMap(Effect.promise(load), use)
