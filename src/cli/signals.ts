import { Effect, Layer } from "effect"
import { stopSignalLayer } from "../train/StopSignal.ts"

/**
 * SIGINT/SIGTERM ask for a graceful stop instead of killing the process (a second signal exits
 * at once), and `until` stops after that many updates; the handlers are removed when the scope
 * closes. Provide it to the run (not beside it): the trainer reads the signal while it is built.
 */
export const stopOnSignals = (options: { readonly until?: number | undefined } = {}): Layer.Layer<never> =>
  Layer.unwrap(
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
        return { onSignal, raised: () => signalled }
      }),
      ({ onSignal }) =>
        Effect.sync(() => {
          process.off("SIGINT", onSignal)
          process.off("SIGTERM", onSignal)
        })
    ).pipe(Effect.map(({ raised }) => stopSignalLayer({ until: options.until, raised })))
  )

/** SIGINT/SIGTERM as graceful stops. */
export const processSignalsLayer: Layer.Layer<never> = stopOnSignals()
