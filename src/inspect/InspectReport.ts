/**
 * What `continuum inspect` reports: one checkpoint in detail, or a run directory's checkpoints
 * with the latest one in detail; with --verify, the problems every check found.
 */
import { Schema } from "effect"
import type { CheckpointProblem } from "../checkpoint/errors.ts"
import type { ComponentName, Fingerprints, Lineage } from "../checkpoint/manifest.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import type { LineageReport } from "./lineage.ts"

export interface TensorEntry {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly parameters: number
}

export interface ComponentReport {
  readonly component: ComponentName
  readonly file: string
  readonly bytes: number
  readonly sha256: string
  readonly tensorCount: number
  /** Total elements over the component's tensors. */
  readonly parameters: number
  /** By name. */
  readonly tensors: ReadonlyArray<TensorEntry>
}

/** The trajectory-shaping part of the stored configuration. */
export interface ConfigSummary {
  readonly model: RunConfig["model"]
  readonly steps: number
  readonly seed: number
  readonly batch: RunConfig["batch"] & { readonly microBatches: number }
  readonly optimizer: RunConfig["optimizer"]
  readonly schedule: RunConfig["schedule"]
  readonly data: RunConfig["data"]
}

export interface StateSummary {
  /** The geometry the checkpoint was written with: `dp` the ranks that ran, `accumulation` A. */
  readonly geometry: {
    readonly global: number
    readonly micro: number
    readonly dp: number
    readonly accumulation: number
  }
  readonly dataCursor: number
  readonly samplesSeen: number
  readonly tokensSeen: number
  readonly optimizerKind: string
  readonly optimizerStep: number
  /** `wsd` (as configured) or `spliced` (reconciled at a resume). */
  readonly scheduleForm: string
  readonly scheduleTotalSteps: number
  /** `lr(schedule, step)`: the rate of the next update, the first one a resume runs. */
  readonly lrAtStep: number
  readonly rng: { readonly seed: number; readonly sampleCounter: number }
}

export interface Verification {
  readonly ok: boolean
  readonly problems: ReadonlyArray<CheckpointProblem>
}

export interface ManifestReport {
  readonly runId: string
  readonly time: string
  readonly parent?: Lineage
  readonly fingerprints: Fingerprints
  readonly components: ReadonlyArray<ComponentReport>
  readonly config: ConfigSummary | { readonly error: string }
  readonly state: StateSummary | { readonly error: string }
  readonly lineage: LineageReport
}

export interface CheckpointReport {
  readonly kind: "checkpoint"
  readonly location: string
  readonly step: number
  /** Present with --verify. */
  readonly verification?: Verification
  /** Absent only when --verify found the manifest itself unreadable. */
  readonly manifest?: ManifestReport
}

export interface RunCheckpointEntry {
  readonly step: number
  readonly location: string
  readonly hasManifest: boolean
  /** Present with --verify. */
  readonly verification?: Verification
}

export interface RunReport {
  readonly kind: "run"
  readonly runDir: string
  readonly checkpointsDir: string
  /** Newest first. */
  readonly checkpoints: ReadonlyArray<RunCheckpointEntry>
  /** The newest readable checkpoint (with --verify: the newest valid one), in detail. */
  readonly latest?: CheckpointReport
  /** Why `latest` is not the newest checkpoint, or why there is none. */
  readonly note?: string
  /** Checkpoints deleted (by the training run's retention) while they were being read. */
  readonly vanished?: ReadonlyArray<string>
}

export type InspectReport = CheckpointReport | RunReport

/** `inspect --verify` found at least one checkpoint that does not verify. */
export class VerificationFailed extends Schema.TaggedError<VerificationFailed>()("VerificationFailed", {
  /** `location: file: reason: detail`, one per problem. */
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `${this.problems.length} verification problem(s): ${this.problems.join("; ")}`
  }
}

/** Every verification problem in the report, as `location: file: reason: detail`. */
export const verificationProblems = (report: InspectReport): ReadonlyArray<string> => {
  const lines = (location: string, v: Verification | undefined) =>
    (v?.problems ?? []).map((p) => `${location}: ${p.file}: ${p.reason}: ${p.detail}`)
  return report.kind === "checkpoint"
    ? lines(report.location, report.verification)
    : report.checkpoints.flatMap((c) => lines(c.location, c.verification))
}
