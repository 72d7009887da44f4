import { Schema } from "effect"

/**
 * A kernel was called with arguments that cannot describe its operands: an array shorter than
 * the sizes demand, an index outside its table, an odd head dimension for RoPE, …
 * Thrown synchronously (kernels are plain functions); `kernel` and `field` name the culprit.
 */
export class KernelArgumentError extends Schema.TaggedError<KernelArgumentError>()("KernelArgumentError", {
  kernel: Schema.String,
  field: Schema.String,
  value: Schema.Number,
  expected: Schema.String
}) {
  override get message(): string {
    return `${this.kernel}: ${this.field} = ${this.value}, expected ${this.expected}`
  }
}
