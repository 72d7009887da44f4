/**
 * A test kit for resume behaviour: checks that a run composition — the default `runLayer` or
 * one's own, with a swapped kernel backend, data loader or model — keeps continuum's resume
 * promises. Each check trains real runs on disk (in a temporary directory unless `workDir` is
 * given) and fails with a typed error naming the stop point, the step, the field and both values.
 *
 * - `checkExactResume`: for each stop point k, train 0→N uninterrupted, 0→k (stopping right after
 *   a checkpoint at k, as a crash would), then resume `exact` k→N; the losses, LRs, gradient norms,
 *   evaluations, metrics file, final weights, optimizer moments and checkpoint state must be
 *   bit-identical. `changes` may alter what exact resume allows to change (e.g. `batch.dp`).
 * - `checkPolicyLaws`: for each stop point k, train 0→k, change the configuration and resume with
 *   the policy; then the laws of docs/design.md ("Resume policies") must hold: see `PolicyLaw`.
 * - `checkRejected`: a plan that must be rejected fails the build with `PlanRejected` and leaves
 *   the run directory (metrics.jsonl, checkpoints) byte for byte as it was.
 *
 * Stop points are plain numbers, so any property-testing library can drive them:
 *
 * ```ts
 * import * as fc from "fast-check"
 * import { Effect } from "effect"
 * import { checkExactResume, checkPolicyLaws, composeRun, decodeRunConfig, presets } from "continuum"
 *
 * const config = await Effect.runPromise(decodeRunConfig({
 *   steps: 12,
 *   model: { dim: 16, layers: 1, heads: 2, ffnDim: 32, seqLen: 16 },
 *   batch: { global: 4, micro: 2 },
 *   schedule: { warmupSteps: 3 },
 *   checkpoint: { every: 4 }
 * }))
 *
 * // Exact recovery is bit-identical from any stop point, also when P changes on resume.
 * await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 11 }), (k) =>
 *   Effect.runPromise(checkExactResume({ config, stopAt: [k], changes: { "batch.dp": 2 } }))
 * ), { numRuns: 5 })
 *
 * // `continue` to twice the steps with twice the batch: the LR is continuous at k, the data
 * // cursor contiguous, the moments restored.
 * await Effect.runPromise(checkPolicyLaws({
 *   config, policy: presets.continue, changes: { steps: 24, "batch.global": 8 }, stopAt: [4, 9]
 * }))
 *
 * // Your own composition: any (config, start) => layer that provides Trainer, Model and Optimizer.
 * await Effect.runPromise(checkExactResume({
 *   config, stopAt: [5], build: (c, start) => composeRun(c, { start, data: myDataLayer(c) })
 * }))
 * ```
 *
 * Each check fails with the first difference it finds, e.g.
 * `ResumeMismatch: exact resume from step 5 differs from the uninterrupted run at step 7: loss is
 * 4.91…, expected 4.87…` or `PolicyLawViolated: law lr-continuity broken after resuming from step 11
 * at step 12: lr (schedule extend, |Δ| ≤ 1e-12) is 0.003, expected 0.00165`.
 */
export { applyChanges, type ConfigChanges } from "./changes.ts"
export {
  InvalidStopPoint,
  PolicyLaw,
  PolicyLawViolated,
  RejectionWroteFiles,
  type ResumeCheckError,
  ResumeMismatch,
  ResumeNotRejected,
  ResumeRunFailed
} from "./errors.ts"
export { checkExactResume, type ExactResumeOptions, type ExactResumeReport } from "./exact.ts"
export { checkPolicyLaws, type PolicyLawOptions, type PolicyLawReport } from "./laws.ts"
export { checkRejected, type RejectedOptions } from "./rejected.ts"
export type { RunBuilder, RunStart } from "./runs.ts"
