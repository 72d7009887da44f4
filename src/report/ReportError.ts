import { Schema } from "effect"

/**
 * A report could not be built: a metrics file could not be read, an output could not be written,
 * or a chart could not be rendered. `path` names the file involved (for `render`, the chart's
 * output name, e.g. `loss.svg`); `reason` says what went wrong.
 */
export class ReportError extends Schema.TaggedError<ReportError>()("ReportError", {
  operation: Schema.Literals(["read", "write", "render"]),
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `report: cannot ${this.operation} ${this.path}: ${this.reason}`
  }
}
