/** Configuration changes for the resumed run, written as `--set` would write them. */
import { Effect } from "effect"
import type { ConfigError } from "../config/ConfigError.ts"
import { applyOverrides, decodeRunConfig, encodeRunConfig } from "../config/loadConfig.ts"
import type { RunConfig } from "../config/RunConfig.ts"

/** Configuration changes as `--set` would write them: dotted path → value (encoded form). */
export type ConfigChanges = Readonly<Record<string, unknown>>

/** Applies `--set`-style changes to a configuration. */
export const applyChanges = (config: RunConfig, changes: ConfigChanges): Effect.Effect<RunConfig, ConfigError> =>
  Effect.flatMap(
    applyOverrides(
      encodeRunConfig(config),
      Object.entries(changes).map(([path, value]) => ({ path: path.split("."), value }))
    ),
    decodeRunConfig
  )
