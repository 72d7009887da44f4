/**
 * The values the checkpoint store takes and returns. They live apart from the store so that the
 * modules doing its separate jobs (reading, writing, cleaning up) can share them.
 */
import type { Option } from "effect"
import type { OnProgress } from "../tensor/progress.ts"
import type { Tensor } from "../tensor/tensor.ts"
import type {
  CheckpointCorrupt,
  CheckpointIoError,
  CheckpointNotFound,
  CheckpointProblem,
  InvalidSnapshot
} from "./errors.ts"
import type { ComponentName, Fingerprints, Lineage, Manifest } from "./manifest.ts"

/** Everything one checkpoint stores. */
export interface CheckpointSnapshot {
  readonly runId: string
  /** Completed updates: the checkpoint holds the state after `step` updates. */
  readonly step: number
  readonly parent?: Lineage
  /** The full encoded run configuration (a JSON value). */
  readonly config: unknown
  readonly fingerprints: Fingerprints
  readonly tensors: { readonly [C in ComponentName]: Readonly<Record<string, Tensor>> }
  /** Non-tensor state by owner; every value must be JSON. */
  readonly state: Readonly<Record<string, unknown>>
}

/** A checkpoint whose manifest has been read and validated. */
export interface CheckpointRef {
  readonly step: number
  /** The checkpoint directory. */
  readonly location: string
  readonly manifest: Manifest
}

export interface CheckpointListing {
  readonly step: number
  readonly location: string
  /** False for a directory without manifest.json, which is never a valid checkpoint. */
  readonly hasManifest: boolean
}

export interface VerifyReport {
  readonly step: number
  readonly location: string
  /** Empty when the checkpoint verifies. */
  readonly problems: ReadonlyArray<CheckpointProblem>
  /** The manifest, when it could be read and validated. */
  readonly manifest: Option.Option<Manifest>
}

export interface LatestValid {
  /** The newest checkpoint that verifies, if any. */
  readonly latest: Option.Option<CheckpointRef>
  /** Newer checkpoints that failed verification, newest first, with their problems. */
  readonly skipped: ReadonlyArray<VerifyReport>
}

export interface LoadOptions<C extends ComponentName> {
  /** The tensor files to read (default: all). Files not read are not verified either. */
  readonly components?: ReadonlyArray<C>
  /** Told how far reading and hashing each file is (large checkpoints take a while). */
  readonly onProgress?: OnProgress | undefined
}

export interface VerifyOptions {
  /** Told how far reading and hashing each file is. */
  readonly onProgress?: OnProgress | undefined
}

export interface LoadedCheckpoint<C extends ComponentName = ComponentName> extends CheckpointRef {
  readonly tensors: { readonly [K in C]: Record<string, Tensor> }
}

export interface RetainReport {
  /** Newest first. */
  readonly kept: ReadonlyArray<number>
  /** Newest first. */
  readonly deleted: ReadonlyArray<number>
}

export interface CleanReport {
  /** Leftover temporary directories removed. */
  readonly removed: ReadonlyArray<string>
  /** Steps whose checkpoint was put back after a replacing save was cut off. */
  readonly restored: ReadonlyArray<number>
}

export type SaveError = InvalidSnapshot | CheckpointIoError
export type ReadError = CheckpointNotFound | CheckpointCorrupt | CheckpointIoError
