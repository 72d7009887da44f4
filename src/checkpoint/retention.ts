/**
 * Which checkpoints to keep: a pure decision over the steps present and what is known of their
 * validity, so the rules can be checked exhaustively apart from any storage.
 *
 * Kept: the latest `keepLatest` valid checkpoints, every step that is a multiple of `keepEvery`,
 * every protected step (one being loaded), and everything newer than the newest valid checkpoint
 * (a corrupt latest save is evidence, not garbage). With no valid checkpoint, nothing is deleted.
 * The newest valid checkpoint is therefore never deleted, whatever the options.
 */

export interface RetentionOptions {
  /** How many of the newest valid checkpoints to keep; values below 1 count as 1. */
  readonly keepLatest: number
  /** Also keep every step that is a multiple of this (0 or absent: none). */
  readonly keepEvery?: number
  /** Steps that must survive (e.g. the one a run is resuming from). */
  readonly protect?: ReadonlyArray<number>
}

export interface RetentionCandidate {
  readonly step: number
  /** Verified valid, verified corrupt, or not checked (the scan stops after enough valid ones). */
  readonly valid: boolean | undefined
}

export interface RetentionPlan {
  /** Newest first. */
  readonly keep: ReadonlyArray<number>
  /** Newest first. */
  readonly remove: ReadonlyArray<number>
}

/** The number of newest valid checkpoints a scan must find before it may stop verifying. */
export const latestToKeep = (options: RetentionOptions): number => Math.max(1, Math.floor(options.keepLatest))

export const planRetention = (
  candidates: ReadonlyArray<RetentionCandidate>,
  options: RetentionOptions
): RetentionPlan => {
  const sorted = [...candidates].sort((a, b) => b.step - a.step)
  const latestValid = new Set(sorted.filter((c) => c.valid === true).slice(0, latestToKeep(options)).map((c) => c.step))
  const newestValid = sorted.find((c) => c.valid === true)?.step
  const protect = new Set(options.protect ?? [])
  const every = options.keepEvery !== undefined && options.keepEvery >= 1 ? Math.floor(options.keepEvery) : 0

  const keep: Array<number> = []
  const remove: Array<number> = []
  for (const { step } of sorted) {
    const kept = newestValid === undefined ||
      step > newestValid ||
      latestValid.has(step) ||
      protect.has(step) ||
      (every > 0 && step % every === 0)
    ;(kept ? keep : remove).push(step)
  }
  return { keep, remove }
}
