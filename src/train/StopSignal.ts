import { Context, Layer } from "effect"

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
 * Stops after `until` updates, or as soon as `raised` returns true (the CLI raises it on SIGINT and
 * SIGTERM). Provide it to the run (not beside it): the trainer reads the signal while it is built.
 */
export const stopSignalLayer = (
  options: { readonly until?: number | undefined; readonly raised?: (() => boolean) | undefined }
): Layer.Layer<never> => {
  const { until, raised } = options
  return Layer.succeed(StopSignal, {
    requested: (step) => raised?.() === true || (until !== undefined && step >= until)
  })
}
