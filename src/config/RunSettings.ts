import { Context, Layer } from "effect"
import type { RunConfig } from "./RunConfig.ts"

/** The decoded configuration of the run being built. */
export class RunSettings extends Context.Service<RunSettings, RunConfig>()("continuum/RunSettings") {
  static readonly layer = (config: RunConfig): Layer.Layer<RunSettings> => Layer.succeed(RunSettings, config)
}
