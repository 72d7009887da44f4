/**
 * `continuum inspect DIR [--verify] [--json]`: what a checkpoint holds (files, tensors,
 * configuration, state, lineage), or what checkpoints a run directory holds. Reading only: no
 * file is written or cleaned, so it is safe while the run is training.
 */
import { Console, Effect, type FileSystem } from "effect"
import { VerificationFailed, verificationProblems } from "../../inspect/InspectReport.ts"
import { renderInspect } from "../../inspect/render.ts"
import { type InspectOptions, inspectReport } from "../../inspect/report.ts"
import { makeTaskProgress } from "../progress.ts"

export type {
  CheckpointReport,
  ComponentReport,
  ConfigSummary,
  InspectReport,
  ManifestReport,
  RunCheckpointEntry,
  RunReport,
  StateSummary,
  TensorEntry,
  Verification
} from "../../inspect/InspectReport.ts"
export { VerificationFailed, verificationProblems } from "../../inspect/InspectReport.ts"
export { type LineageEnd, type LineageNode, lineageOf, type LineageReport } from "../../inspect/lineage.ts"
export { renderInspect } from "../../inspect/render.ts"
export { checkpointReport, inspectReport, runReport } from "../../inspect/report.ts"

export interface InspectArgs extends InspectOptions {
  /** Print one JSON object instead of text. */
  readonly json: boolean
}

/** `continuum inspect`: prints the report; with --verify, fails after printing when a check failed. */
export const inspect = (args: InspectArgs): Effect.Effect<
  void,
  Effect.Error<ReturnType<typeof inspectReport>> | VerificationFailed,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    // Verifying hashes every file; a large checkpoint takes a while, so it shows how far it is.
    const progress = makeTaskProgress()
    const report = yield* inspectReport({ ...args, onProgress: args.verify ? progress.report : undefined }).pipe(
      Effect.ensuring(Effect.sync(progress.finish))
    )
    yield* Console.log(args.json ? JSON.stringify(report, null, 2) : renderInspect(report))
    const problems = verificationProblems(report)
    if (args.verify && problems.length > 0) return yield* new VerificationFailed({ problems })
  })
