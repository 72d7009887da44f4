import { Context, Effect, Layer } from "effect"

export interface StopSignalShape {
  /** True once a stop was asked for; the run finishes its current step, saves and ends. */
  readonly requested: () => boolean
}

/** A graceful stop request. By default nothing ever asks; the CLI wires SIGINT and SIGTERM to it. */
export const StopSignal = Context.Reference<StopSignalShape>("continuum/StopSignal", {
  defaultValue: () => ({ requested: () => false })
})

/** SIGINT/SIGTERM set the flag instead of killing the process; the handlers are removed on exit. */
export const processSignalsLayer: Layer.Layer<never> = Layer.effect(
  StopSignal,
  Effect.acquireRelease(
    Effect.sync(() => {
      let stop = false
      const onSignal = (signal: NodeJS.Signals) => {
        if (stop) process.exit(130) // a second signal: the user really wants out
        stop = true
        process.stderr.write(`\n${signal}: finishing the current step, then saving a checkpoint…\n`)
      }
      process.on("SIGINT", onSignal)
      process.on("SIGTERM", onSignal)
      return { onSignal, flag: { requested: () => stop } }
    }),
    ({ onSignal }) =>
      Effect.sync(() => {
        process.off("SIGINT", onSignal)
        process.off("SIGTERM", onSignal)
      })
  ).pipe(Effect.map(({ flag }) => flag))
)
