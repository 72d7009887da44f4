import { Effect } from "effect"
import { ConfigError } from "./ConfigError.ts"
import type { RunConfig } from "./RunConfig.ts"

/** Cross-field rules that a per-field schema cannot express. */
export const checkConsistency = (config: RunConfig): Effect.Effect<RunConfig, ConfigError> => {
  const fail = (path: string, value: unknown, message: string) =>
    Effect.fail(new ConfigError({ path, value: JSON.stringify(value), reason: message }))
  const { model, batch } = config
  if (model.kind === "llama") {
    if (model.dim % model.heads !== 0) {
      return fail("model.heads", model.heads, `must divide model.dim = ${model.dim}`)
    }
    if ((model.dim / model.heads) % 2 !== 0) {
      return fail("model.heads", model.heads, `head size model.dim / model.heads = ${model.dim / model.heads} must be even for RoPE`)
    }
  }
  if (batch.global % (batch.micro * batch.dp) !== 0) {
    return fail(
      "batch.global",
      batch.global,
      `must be a multiple of batch.micro × batch.dp = ${batch.micro} × ${batch.dp} (B = μ·A·P)`
    )
  }
  return Effect.succeed(config)
}
