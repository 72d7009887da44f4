import { Schema } from "effect"

/** A configuration value that was rejected before any step ran; names the path and the value. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  path: Schema.String,
  value: Schema.String,
  message: Schema.String
}) {
  override toString(): string {
    return `invalid configuration at ${this.path} = ${this.value}: ${this.message}`
  }
}
