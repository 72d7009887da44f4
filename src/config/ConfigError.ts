import { Schema } from "effect"

/** A configuration value that was rejected before any step ran; names the path and the value. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  path: Schema.String,
  value: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.path} = ${this.value}: ${this.reason}`
  }
}
