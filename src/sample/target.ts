/**
 * What a `DIR` argument names: one checkpoint (`…/checkpoints/step-NNNNNNNN`) or a run directory
 * (whose latest valid checkpoint is meant; its `checkpoints` directory names it too), the same in
 * an object store (`s3://bucket/prefix/step-NNNNNNNN`, `s3://bucket/prefix`), and a read-only
 * view of its checkpoint store.
 *
 * Readers may run while the run is still training, so the store is opened without cleaning
 * leftovers (they may be the trainer's save in progress) and a checkpoint removed by retention
 * between being found and being read is looked up again.
 */
import { Clock, Effect, FileSystem, Option, Result, type Scope } from "effect"
import * as NodePath from "node:path"
import { locateObject } from "../checkpoint/address.ts"
import { type CheckpointRef, type CheckpointStoreShape, openCheckpointStore } from "../checkpoint/CheckpointStore.ts"
import type { CheckpointIoError, CheckpointStoreUnavailable } from "../checkpoint/errors.ts"
import { CHECKPOINTS_DIR, locateCheckpointDir } from "../checkpoint/layout.ts"
import { isObjectLocation } from "../config/objectLocation.ts"
import { CheckpointPathInvalid, NoValidCheckpoint } from "./errors.ts"

interface TargetStore {
  readonly path: string
  /** The run directory; for an object store, its `s3://bucket/prefix`. */
  readonly runDir: string
  /** The object-store location of the checkpoints; undefined for `<runDir>/checkpoints`. */
  readonly location?: string | undefined
}

export type CheckpointTarget =
  | TargetStore & { readonly kind: "checkpoint"; readonly step: number }
  | TargetStore & { readonly kind: "run" }

export interface ResolveOptions {
  /** Accept a run directory that does not exist yet (a run about to start); default false. */
  readonly allowMissingRun?: boolean
}

const isDirectory = (fs: FileSystem.FileSystem, path: string) =>
  fs.stat(path).pipe(Effect.map((info) => info.type === "Directory"), Effect.orElseSucceed(() => false))

const expected = "expected a checkpoint directory (…/checkpoints/step-NNNNNNNN) or a run directory"

/** Classifies `path`. A checkpoint path is not checked for existence here: reading it is. */
export const resolveTarget = Effect.fnUntraced(function*(
  path: string,
  options: ResolveOptions = {}
): Effect.fn.Return<CheckpointTarget, CheckpointPathInvalid, FileSystem.FileSystem> {
  if (isObjectLocation(path)) {
    const object = locateObject(path)
    if (typeof object === "string") return yield* new CheckpointPathInvalid({ path, reason: object })
    const { runDir, location, step } = object
    return step === undefined
      ? { kind: "run", path, runDir, location }
      : { kind: "checkpoint", path, runDir, location, step }
  }
  const located = locateCheckpointDir(path)
  if (located !== undefined) return { kind: "checkpoint", path, runDir: located.runDir, step: located.step }
  const fs = yield* FileSystem.FileSystem
  const info = yield* fs.stat(path).pipe(
    Effect.map(Option.some),
    Effect.catchIf((e) => e.reason._tag === "NotFound", () => Effect.succeedNone),
    Effect.mapError((e) => new CheckpointPathInvalid({ path, reason: `cannot be read: ${e.message}` }))
  )
  if (Option.isNone(info)) {
    if (options.allowMissingRun === true) return { kind: "run", path, runDir: NodePath.resolve(path) }
    return yield* new CheckpointPathInvalid({ path, reason: `does not exist; ${expected}` })
  }
  if (info.value.type !== "Directory") {
    return yield* new CheckpointPathInvalid({ path, reason: `is not a directory; ${expected}` })
  }
  // `<runDir>/checkpoints` itself stands for its run, unless it is a run directory of that name.
  const resolved = NodePath.resolve(path)
  if (
    NodePath.basename(resolved) === CHECKPOINTS_DIR &&
    !(yield* isDirectory(fs, NodePath.join(resolved, CHECKPOINTS_DIR)))
  ) {
    return { kind: "run", path, runDir: NodePath.dirname(resolved) }
  }
  return { kind: "run", path, runDir: resolved }
})

/**
 * The checkpoint store of `runDir` (or of the object-store `location`), for reading only: nothing
 * is cleaned or written.
 */
export const openReadOnlyStore = (
  runDir: string,
  location?: string
): Effect.Effect<
  CheckpointStoreShape,
  CheckpointStoreUnavailable | CheckpointIoError,
  FileSystem.FileSystem | Scope.Scope
> => openCheckpointStore(runDir, location, { cleanOnStart: false })

const POLL_MILLIS = 1000

/**
 * The newest checkpoint of the store that verifies. With `waitSeconds > 0`, polls once a second
 * until one appears or the time is up; then fails with `NoValidCheckpoint`, naming the corrupt
 * checkpoints that were skipped.
 */
export const latestValidOrWait = Effect.fnUntraced(function*(
  store: CheckpointStoreShape,
  runDir: string,
  waitSeconds: number
): Effect.fn.Return<CheckpointRef, NoValidCheckpoint | CheckpointIoError> {
  const start = yield* Clock.currentTimeMillis
  const deadline = start + Math.max(0, waitSeconds) * 1000
  while (true) {
    const { latest, skipped } = yield* store.latestValid
    if (Option.isSome(latest)) return latest.value
    const now = yield* Clock.currentTimeMillis
    if (now >= deadline) {
      return yield* new NoValidCheckpoint({
        runDir,
        waitedSeconds: waitSeconds,
        corrupt: skipped.map((s) => {
          const problem = s.problems[0]
          return problem === undefined ? s.location : `${s.location}: ${problem.file}: ${problem.reason}`
        })
      })
    }
    yield* Effect.sleep(Math.min(POLL_MILLIS, deadline - now))
  }
})

/** Attempts at reading a run's latest checkpoint when retention keeps removing the one found. */
const LATEST_ATTEMPTS = 3

const isNotFound = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "CheckpointNotFound"

/**
 * Runs `use` on the checkpoint `path` names: the checkpoint itself, or the latest valid one of a
 * run directory (waiting for it up to `waitSeconds`).
 */
export const withCheckpoint = <A, E, R>(
  path: string,
  waitSeconds: number,
  use: (store: CheckpointStoreShape, step: number) => Effect.Effect<A, E, R>
): Effect.Effect<
  A,
  E | CheckpointPathInvalid | NoValidCheckpoint | CheckpointStoreUnavailable | CheckpointIoError,
  R | FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(path, { allowMissingRun: waitSeconds > 0 })
    const store = yield* openReadOnlyStore(target.runDir, target.location)
    if (target.kind === "checkpoint") return yield* use(store, target.step)
    for (let attempt = 1;; attempt++) {
      const latest = yield* latestValidOrWait(store, target.runDir, waitSeconds)
      const result = yield* Effect.result(use(store, latest.step))
      if (Result.isSuccess(result)) return result.success
      if (!isNotFound(result.failure) || attempt >= LATEST_ATTEMPTS) return yield* Effect.fail(result.failure)
    }
  })
