import { Schema } from "effect"

/** A batch handed to a model does not have the geometry it was called with. */
export class ModelInputError extends Schema.TaggedError<ModelInputError>()("ModelInputError", {
  field: Schema.String,
  value: Schema.Number,
  expected: Schema.String
}) {
  override get message(): string {
    return `model input: ${this.field} = ${this.value}, expected ${this.expected}`
  }
}

/** A tensor the model needs is absent from a parameter map. */
export class MissingParamError extends Schema.TaggedError<MissingParamError>()("MissingParamError", {
  name: Schema.String,
  expectedShape: Schema.String
}) {
  override get message(): string {
    return `parameter ${this.name} ${this.expectedShape} is missing`
  }
}

/** A parameter map holds a tensor the model does not have. */
export class UnexpectedParamError extends Schema.TaggedError<UnexpectedParamError>()("UnexpectedParamError", {
  name: Schema.String,
  actualShape: Schema.String
}) {
  override get message(): string {
    return `parameter ${this.name} ${this.actualShape} is not part of this model`
  }
}

/** A tensor has a shape (or element count) other than the model's parameter of that name. */
export class ParamShapeError extends Schema.TaggedError<ParamShapeError>()("ParamShapeError", {
  name: Schema.String,
  expectedShape: Schema.String,
  actualShape: Schema.String
}) {
  override get message(): string {
    return `parameter ${this.name}: shape ${this.actualShape}, the model expects ${this.expectedShape}`
  }
}

export type ParamMapError = MissingParamError | UnexpectedParamError | ParamShapeError
