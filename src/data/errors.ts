/**
 * Typed failures of the data layer. Each names the offending path, field or value so that a
 * rejected run tells the user exactly what to fix; the human text lives in `message`.
 */
import { Schema } from "effect"

/** `data.source` names a path that does not exist. */
export class DataSourceNotFound extends Schema.TaggedError<DataSourceNotFound>()("DataSourceNotFound", {
  path: Schema.String
}) {
  override get message(): string {
    return `data.source: no such file or directory: ${this.path}`
  }
}

/** The path exists but could not be read (permissions, I/O, not a regular file, …). */
export class DataSourceUnreadable extends Schema.TaggedError<DataSourceUnreadable>()("DataSourceUnreadable", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `data.source: cannot read ${this.path}: ${this.reason}`
  }
}

/** The source holds no tokens (an empty file, or a directory without text files). */
export class DataSourceEmpty extends Schema.TaggedError<DataSourceEmpty>()("DataSourceEmpty", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `data.source: ${this.path} holds no data: ${this.reason}`
  }
}

/** The source was read but its content is malformed (bad token-file header, bad corpus JSON). */
export class DataSourceInvalid extends Schema.TaggedError<DataSourceInvalid>()("DataSourceInvalid", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `data.source: ${this.path} is not valid: ${this.reason}`
  }
}

export type DataSourceError = DataSourceNotFound | DataSourceUnreadable | DataSourceEmpty | DataSourceInvalid

/** A split or windowing parameter is out of range (`data.valFraction`, `model.seqLen`). */
export class DataSplitInvalid extends Schema.TaggedError<DataSplitInvalid>()("DataSplitInvalid", {
  field: Schema.String,
  value: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.field} = ${this.value}: ${this.reason}`
  }
}

/** The training part of the stream is too short to hold a single window of `seqLen + 1` tokens. */
export class DatasetTooSmall extends Schema.TaggedError<DatasetTooSmall>()("DatasetTooSmall", {
  source: Schema.String,
  tokens: Schema.Number,
  trainTokens: Schema.Number,
  seqLen: Schema.Number,
  valFraction: Schema.Number
}) {
  override get message(): string {
    return `data.source ${this.source}: ${this.trainTokens} training tokens (of ${this.tokens}, ` +
      `data.valFraction = ${this.valFraction}) cannot fill one window of model.seqLen + 1 = ${this.seqLen + 1} tokens`
  }
}

/** The tokens of the source do not fit the model's vocabulary. */
export class VocabSizeMismatch extends Schema.TaggedError<VocabSizeMismatch>()("VocabSizeMismatch", {
  source: Schema.String,
  maxTokenId: Schema.Number,
  vocabSize: Schema.Number
}) {
  override get message(): string {
    return `model.vocabSize = ${this.vocabSize} is too small for data.source ${this.source}: ` +
      `it holds token id ${this.maxTokenId}, so model.vocabSize must be at least ${this.maxTokenId + 1}`
  }
}

/** More validation windows were asked for than the held-out part provides. */
export class ValidationSetTooSmall extends Schema.TaggedError<ValidationSetTooSmall>()("ValidationSetTooSmall", {
  count: Schema.Number,
  batchSize: Schema.Number,
  available: Schema.Number
}) {
  override get message(): string {
    return `validation needs eval.batches × batch size = ${this.count} × ${this.batchSize} = ` +
      `${this.count * this.batchSize} windows, but the held-out data provides ${this.available}`
  }
}

export type DataLoaderError = DataSourceError | DataSplitInvalid | DatasetTooSmall
