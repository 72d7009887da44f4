/**
 * Rules that relate several fields, as schema checks. The run configuration's sections carry
 * them, so a decoded configuration satisfies them by construction, and what is built from it
 * (the model, the batch geometry, the schedule) cannot fail. Each rule reports at the field to
 * blame; its message names the other fields involved, with their values.
 */
import { Schema } from "effect"
import { runLengthProblem, type ScheduleConfig, scheduleIssue } from "./scheduleConfig.ts"

/** A llama splits `dim` into `heads` heads of equal, even size (RoPE rotates pairs). An mlp has no heads. */
export const headsSplitDim = Schema.makeFilter(
  (model: { readonly kind: string; readonly dim: number; readonly heads: number }) => {
    if (model.kind !== "llama") return undefined
    if (model.dim % model.heads !== 0) return { path: ["heads"], issue: `must divide model.dim = ${model.dim}` }
    const headSize = model.dim / model.heads
    return headSize % 2 === 0
      ? undefined
      : { path: ["heads"], issue: `head size model.dim / model.heads = ${headSize} must be even for RoPE` }
  }
)

/** `μ | B`: a step is a whole number of micro-batches. */
export const microDividesGlobal = Schema.makeFilter(
  (batch: { readonly global: number; readonly micro: number }) =>
    batch.global % batch.micro === 0
      ? undefined
      : {
        path: ["global"],
        issue: `must be a multiple of batch.micro = ${batch.micro} (a whole number of micro-batches)`
      }
)

/** A stated number of ranks has a micro-batch each: `P ≤ B/μ` (`auto` caps itself). */
export const ranksWithinMicroBatches = Schema.makeFilter(
  (batch: { readonly global: number; readonly micro: number; readonly dp: number | "auto" }) => {
    const microBatches = Math.floor(batch.global / batch.micro)
    return batch.dp === "auto" || batch.dp <= microBatches ? undefined : {
      path: ["dp"],
      issue: `must be at most the ${microBatches} micro-batches of a step (batch.global / batch.micro = ` +
        `${batch.global} / ${batch.micro}), or auto`
    }
  }
)

/** The schedule fits the run's `steps` (see `runLengthProblem`). */
export const scheduleFitsRun = Schema.makeFilter(
  (run: { readonly steps: number; readonly schedule: ScheduleConfig }) =>
    scheduleIssue(["schedule"], runLengthProblem(run.schedule, run.steps))
)

/**
 * The counters a run keeps (samples seen = steps × batch.global, tokens seen = samples ×
 * model.seqLen) stay exact integers in a float64.
 */
export const tokenCountsStayExact = Schema.makeFilter(
  (run: {
    readonly steps: number
    readonly batch: { readonly global: number }
    readonly model: { readonly seqLen: number }
  }) => {
    const tokens = run.steps * run.batch.global * run.model.seqLen
    return Number.isSafeInteger(tokens) ? undefined : {
      path: ["steps"],
      issue: `steps × batch.global × model.seqLen = ${run.steps} × ${run.batch.global} × ${run.model.seqLen} ` +
        `tokens is more than a run can count exactly (${Number.MAX_SAFE_INTEGER})`
    }
  }
)
