import { Schema } from "effect"

/** An op received operands whose shapes do not fit together; names the op, operand and both shapes. */
export class ShapeError extends Schema.TaggedError<ShapeError>()("ShapeError", {
  op: Schema.String,
  operand: Schema.String,
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message(): string {
    return `${this.op}: ${this.operand} has shape ${this.actual}, expected ${this.expected}`
  }
}

/** backward() was asked of a tape that records nothing (built for forward-only passes). */
export class TapeNotRecordingError extends Schema.TaggedError<TapeNotRecordingError>()("TapeNotRecordingError", {
  operation: Schema.String
}) {
  override get message(): string {
    return `${this.operation} needs a recording tape, but this one was created with recording = false`
  }
}
