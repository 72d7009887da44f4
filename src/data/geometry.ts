/**
 * Batch geometry: global batch B samples per step, micro-batch μ, data-parallel degree P and
 * accumulation A with B = μ·A·P.
 *
 * Micro-batch j (0 ≤ j < B/μ) of the step that starts at sample `cursor` holds samples
 * [cursor + jμ, cursor + (j+1)μ). Ranks own contiguous blocks — rank r processes
 * j ∈ [r·A, (r+1)·A) — and the step gradient is summed in order of j, so the trajectory depends
 * on (B, μ) only and P or A may change under exact resume.
 */
import type { BatchConfig } from "../config/RunConfig.ts"

export interface ResolvedGeometry extends BatchConfig {
  /** A = B / (μ·P): micro-batches each rank accumulates per step. */
  readonly accumulation: number
  /** B / μ = A·P: micro-batches per step over all ranks. */
  readonly microBatches: number
}

/**
 * The geometry of a decoded `batch` section, whose checks guarantee a whole accumulation:
 * `global` is a multiple of `micro · dp` (`config/consistency.ts`).
 */
export const resolveGeometry = ({ global, micro, dp }: BatchConfig): ResolvedGeometry => {
  const accumulation = global / (micro * dp)
  return { global, micro, dp, accumulation, microBatches: accumulation * dp }
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

/** The micro-batch indices j that rank r processes, in the order they are summed. */
export const rankMicroBatches = (geometry: ResolvedGeometry, rank: number): ReadonlyArray<number> => {
  if (!Number.isSafeInteger(rank) || rank < 0 || rank >= geometry.dp) {
    throw new RangeError(`rank ${rank} outside [0, ${geometry.dp})`)
  }
  return Array.from({ length: geometry.accumulation }, (_, a) => rank * geometry.accumulation + a)
}

/** The sample cursor after the step that starts at `cursor`. */
export const nextCursor = (geometry: BatchConfig, cursor: number): number => cursor + geometry.global
