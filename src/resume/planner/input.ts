/** What the resume planner is given: a policy, a source to resume from and the new run. */
import type { Manifest } from "../../checkpoint/manifest.ts"
import type { RunConfig } from "../../config/RunConfig.ts"
import type { ResumePolicy } from "../policy.ts"

export type Shape = ReadonlyArray<number>

/** A checkpoint, as read and verified by the checkpoint store. */
export interface CheckpointSource {
  readonly kind: "checkpoint"
  readonly location: string
  readonly manifest: Manifest
  /** What verification found wrong; empty when every file verified. */
  readonly problems: ReadonlyArray<{ readonly file: string; readonly reason: string; readonly detail: string }>
}

/** A weights file (e.g. an exported safetensors), with the tensor shapes from its header. */
export interface WeightsSource {
  readonly kind: "weights"
  readonly file: string
  readonly shapes: Readonly<Record<string, Shape>>
}

export interface PlanInput {
  readonly policy: ResumePolicy
  readonly source: CheckpointSource | WeightsSource
  /** The configuration of the new run. */
  readonly config: RunConfig
  /** The dataset fingerprint of the new configuration's data. */
  readonly dataFingerprint: string
  /** P, the ranks the new run will have (`batch.dp` resolved on this machine), when known. */
  readonly ranks?: number
}
