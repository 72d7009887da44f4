/**
 * Errors of reading a trained model back (sampling, export, inspection). Each names the path or
 * option and the value that explain it.
 */
import { Schema } from "effect"

/** A command-line value is out of range (e.g. a negative temperature). */
export class SampleOptionInvalid extends Schema.TaggedError<SampleOptionInvalid>()("SampleOptionInvalid", {
  /** The option, as spelled on the command line (`--temperature`). */
  option: Schema.String,
  value: Schema.String,
  expected: Schema.String
}) {
  override get message(): string {
    return `${this.option} ${this.value}: expected ${this.expected}`
  }
}

/** A path given as a checkpoint or run directory is neither. */
export class CheckpointPathInvalid extends Schema.TaggedError<CheckpointPathInvalid>()("CheckpointPathInvalid", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.path}: ${this.reason}`
  }
}

/** A run directory holds no valid checkpoint (after waiting, if asked to). */
export class NoValidCheckpoint extends Schema.TaggedError<NoValidCheckpoint>()("NoValidCheckpoint", {
  runDir: Schema.String,
  waitedSeconds: Schema.Number,
  /** Newer checkpoints that exist but fail verification, by location, with their first problem. */
  corrupt: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const waited = this.waitedSeconds > 0
      ? ` after waiting ${this.waitedSeconds} s`
      : " (pass --wait SECONDS to wait for one)"
    const corrupt = this.corrupt.length > 0 ? `; failing verification: ${this.corrupt.join("; ")}` : ""
    return `${this.runDir} holds no valid checkpoint${waited}${corrupt}`
  }
}

/** A checkpoint's configuration or weights cannot make a model. */
export class ModelUnloadable extends Schema.TaggedError<ModelUnloadable>()("ModelUnloadable", {
  location: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot build the model of ${this.location}: ${this.detail}`
  }
}

/** The model was not trained on bytes, so a text prompt cannot be fed to it. */
export class NotByteLevel extends Schema.TaggedError<NotByteLevel>()("NotByteLevel", {
  location: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.location} is not a byte-level model: ${this.detail}`
  }
}

/** Every logit of a generation step was NaN or −∞ (a diverged model). */
export class NonFiniteLogits extends Schema.TaggedError<NonFiniteLogits>()("NonFiniteLogits", {
  /** Index of the token being generated (0 = the first after the prompt). */
  index: Schema.Number
}) {
  override get message(): string {
    return `no finite logit to choose generated token ${this.index} from; the model's weights may have diverged`
  }
}
