import { Context, Effect, Layer } from "effect"

export interface StopSignalShape {
  /**
   * True once the run should stop after the update that just completed (`step` updates done):
   * it then evaluates, saves a checkpoint and ends, exactly as at the end of the run.
   */
  readonly requested: (step: number) => boolean
}

/** A graceful stop request. By default nothing ever asks; the CLI wires SIGINT and SIGTERM to it. */
export const StopSignal = Context.Reference<StopSignalShape>("continuum/StopSignal", {
  defaultValue: () => ({ requested: () => false })
})

/**
 * SIGINT/SIGTERM set a flag instead of killing the process (a second signal exits at once), and
 * `until` stops after that many updates; the handlers are removed when the scope closes.
 * Provide it to the run (not beside it): the trainer reads the signal while it is built.
 */
export const stopSignalLayer = (options: { readonly until?: number | undefined } = {}): Layer.Layer<never> =>
  Layer.effect(
    StopSignal,
    Effect.acquireRelease(
      Effect.sync(() => {
        let signalled = false
        const onSignal = (signal: NodeJS.Signals) => {
          if (signalled) process.exit(130)
          signalled = true
          process.stderr.write(`\n${signal}: finishing the current step, then saving a checkpoint…\n`)
        }
        process.on("SIGINT", onSignal)
        process.on("SIGTERM", onSignal)
        const until = options.until
        const requested = (step: number) => signalled || (until !== undefined && step >= until)
        return { onSignal, flag: { requested } }
      }),
      ({ onSignal }) =>
        Effect.sync(() => {
          process.off("SIGINT", onSignal)
          process.off("SIGTERM", onSignal)
        })
    ).pipe(Effect.map(({ flag }) => flag))
  )

/** SIGINT/SIGTERM as graceful stops. */
export const processSignalsLayer: Layer.Layer<never> = stopSignalLayer()
