/**
 * Errors of the checkpoint store. Each names the step, the file and the value that explain it.
 */
import { Schema } from "effect"

/** A file-system operation failed (permissions, disk full, …). */
export class CheckpointIoError extends Schema.TaggedError<CheckpointIoError>()("CheckpointIoError", {
  operation: Schema.String,
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.operation} ${this.path} failed: ${this.detail}`
  }
}

export class CheckpointNotFound extends Schema.TaggedError<CheckpointNotFound>()("CheckpointNotFound", {
  step: Schema.Number,
  /** Where it was looked for. */
  location: Schema.String
}) {
  override get message(): string {
    return `no checkpoint for step ${this.step} at ${this.location}`
  }
}

export const CorruptionReason = Schema.Literals([
  /** The file is not there (or is not a regular file). */
  "MissingFile",
  /** The file could not be read. */
  "Unreadable",
  /** manifest.json fails to parse or validate. */
  "InvalidManifest",
  /** The manifest's step differs from its directory's. */
  "StepMismatch",
  /** The file's size differs from the manifest's. */
  "SizeMismatch",
  /** The file's sha256 differs from the manifest's, or the manifest's content from its digest. */
  "HashMismatch",
  /** The safetensors content fails validation. */
  "InvalidTensors",
  /** The tensors (names, shapes, dtype) differ from the manifest's list. */
  "TensorMismatch"
])
export type CorruptionReason = typeof CorruptionReason.Type

/** One thing wrong with one file of a checkpoint. */
export const CheckpointProblem = Schema.Struct({
  file: Schema.String,
  reason: CorruptionReason,
  detail: Schema.String
})
export type CheckpointProblem = typeof CheckpointProblem.Type

export class CheckpointCorrupt extends Schema.TaggedError<CheckpointCorrupt>()("CheckpointCorrupt", {
  step: Schema.Number,
  /** The checkpoint directory. */
  location: Schema.String,
  file: Schema.String,
  reason: CorruptionReason,
  detail: Schema.String
}) {
  override get message(): string {
    return `checkpoint step ${this.step} (${this.location}): ${this.file}: ${this.reason}: ${this.detail}`
  }
}

/** A snapshot handed to `save` that cannot be stored as given. */
export class InvalidSnapshot extends Schema.TaggedError<InvalidSnapshot>()("InvalidSnapshot", {
  field: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot save checkpoint: ${this.field}: ${this.detail}`
  }
}

export type CheckpointError = CheckpointIoError | CheckpointNotFound | CheckpointCorrupt | InvalidSnapshot

/**
 * The object store a run's checkpoints are to go to cannot be used: the bucket is missing, the
 * credentials are refused, or the server cannot be reached. Raised when the store opens, before
 * any step.
 */
export class CheckpointStoreUnavailable
  extends Schema.TaggedError<CheckpointStoreUnavailable>()("CheckpointStoreUnavailable", {
    location: Schema.String,
    detail: Schema.String
  })
{
  override get message(): string {
    return `checkpoints at ${this.location} cannot be used: ${this.detail}`
  }
}
