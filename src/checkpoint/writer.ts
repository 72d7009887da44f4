import type { Effect } from "effect"
import type { CheckpointIoError, CheckpointNotFound } from "./errors.ts"
import type { PreparedSave } from "./prepareSnapshot.ts"
import type { CheckpointRef, CleanReport, SaveError } from "./storeTypes.ts"

/**
 * The write side of a backend: how a checkpoint is published, removed, and how the leftovers of
 * interrupted saves are cleaned. A file system publishes by rename (publish.ts); an object store,
 * which cannot rename, by writing its manifest last (objectPublish.ts).
 */
export interface CheckpointWriter {
  readonly publish: (prepared: PreparedSave) => Effect.Effect<CheckpointRef, SaveError>
  readonly remove: (step: number) => Effect.Effect<void, CheckpointNotFound | CheckpointIoError>
  readonly cleanTemp: Effect.Effect<CleanReport, CheckpointIoError>
}
