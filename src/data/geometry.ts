/**
 * Batch geometry: global batch B samples per step, micro-batch μ (μ | B), and P data-parallel
 * ranks that share the step's B/μ micro-batches.
 *
 * Micro-batch j (0 ≤ j < B/μ) of the step that starts at sample `cursor` holds samples
 * [cursor + jμ, cursor + (j+1)μ). Ranks take the micro-batches in turn — rank r processes
 * j = r, r + P, r + 2P, … — so that in each round the P ranks hold consecutive micro-batches and
 * their gradients can be added to the step gradient in order of j before the next round reuses the
 * slots. P need not divide B/μ: the last round leaves some ranks idle, and A (the micro-batches a
 * rank accumulates) is the most any rank gets. The step gradient is always the sum in order of j,
 * so the trajectory depends on (B, μ) only and P may change under exact resume.
 */
import type { BatchConfig } from "../config/RunConfig.ts"

export interface ResolvedGeometry {
  /** B: samples per step. */
  readonly global: number
  /** μ: samples per micro-batch. */
  readonly micro: number
  /** P: the number of ranks (`batch.dp`, with `auto` resolved). */
  readonly dp: number
  /** A = ⌈(B/μ) / P⌉: rounds of micro-batches per step, the most any rank accumulates. */
  readonly accumulation: number
  /** B / μ: micro-batches per step over all ranks. */
  readonly microBatches: number
}

/**
 * P for `batch.dp`: `auto` is one rank per core, capped by the number of micro-batches (a rank with
 * no micro-batch would only wait). A number is taken as given (the configuration's checks keep it
 * within the micro-batches).
 */
export const resolveRanks = (batch: BatchConfig, cores: number): number =>
  batch.dp === "auto" ? Math.max(1, Math.min(cores, batch.global / batch.micro)) : batch.dp

/** The geometry of a decoded `batch` section, whose checks guarantee μ | B and P ≤ B/μ. */
export const resolveGeometry = (batch: BatchConfig, cores: number): ResolvedGeometry => {
  const microBatches = batch.global / batch.micro
  const dp = resolveRanks(batch, cores)
  return { global: batch.global, micro: batch.micro, dp, accumulation: Math.ceil(microBatches / dp), microBatches }
}

/** Global sample range [start, end) of micro-batch j of the step starting at `cursor`. */
export const microBatchRange = (
  geometry: ResolvedGeometry,
  cursor: number,
  j: number
): { readonly start: number; readonly end: number } => {
  if (!Number.isSafeInteger(j) || j < 0 || j >= geometry.microBatches) {
    throw new RangeError(`micro-batch ${j} outside [0, ${geometry.microBatches})`)
  }
  const start = cursor + j * geometry.micro
  return { start, end: start + geometry.micro }
}

/** The micro-batch indices j that rank r processes, in the order it computes them. */
export const rankMicroBatches = (geometry: ResolvedGeometry, rank: number): ReadonlyArray<number> => {
  if (!Number.isSafeInteger(rank) || rank < 0 || rank >= geometry.dp) {
    throw new RangeError(`rank ${rank} outside [0, ${geometry.dp})`)
  }
  const mine: Array<number> = []
  for (let j = rank; j < geometry.microBatches; j += geometry.dp) mine.push(j)
  return mine
}

/** The sample cursor after the step that starts at `cursor`. */
export const nextCursor = (geometry: { readonly global: number }, cursor: number): number => cursor + geometry.global
