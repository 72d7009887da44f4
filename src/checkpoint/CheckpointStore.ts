/**
 * The checkpoint store: atomic saves (optionally in the background), listing, verification,
 * loading, deletion and retention of `<runDir>/checkpoints/step-…` directories.
 *
 * It knows nothing of training: a snapshot is named tensors per component plus JSON state.
 * Integrity rests on three rules. A checkpoint directory only ever appears by renaming a fully
 * written and fsynced temporary directory, with manifest.json written last. Every file read is
 * checked against the manifest's size and sha256 before it is decoded. And every name, header
 * and manifest field is validated before use — nothing in a checkpoint is ever executed.
 *
 * This module ties the jobs together — reading (readCheckpoint.ts, scan.ts), preparing and
 * publishing saves (prepareSnapshot.ts, publish.ts) and removal (cleanup.ts) — and decides what
 * runs under the store's lock and what runs in the background. Where the bytes go is the disk's
 * business (disk.ts): the file system through a writer thread, or memory. An S3-compatible bucket
 * (objectDisk.ts) shares the read side and publishes with its manifest as the commit
 * (objectPublish.ts), since it cannot rename.
 */
import { Context, Effect, Fiber, FileSystem, Layer, Option, Ref, Scope, Semaphore } from "effect"
import { parseObjectLocation } from "../config/objectLocation.ts"
import { cleanTemp as cleanTempIn, removeStep, retainCheckpoints } from "./cleanup.ts"
import { type CheckpointDisk, fileSystemDisk, makeMemoryDisk } from "./disk.ts"
import { type CheckpointIoError, type CheckpointNotFound, CheckpointStoreUnavailable } from "./errors.ts"
import { checkpointsDir } from "./layout.ts"
import type { ComponentName } from "./manifest.ts"
import { checkBucket, checkListing, makeObjectDisk, makeS3Client, type ObjectDisk } from "./objectDisk.ts"
import { objectWriter } from "./objectPublish.ts"
import { type PreparedSave, prepareSnapshot } from "./prepareSnapshot.ts"
import { publishCheckpoint } from "./publish.ts"
import { loadCheckpoint, readManifest, verifyCheckpoint } from "./readCheckpoint.ts"
import type { RetentionOptions } from "./retention.ts"
import { findLatestValid, listCheckpoints } from "./scan.ts"
import { type ReadContext, stepLocation, type StoreContext } from "./storeContext.ts"
import type {
  CheckpointListing,
  CheckpointRef,
  CheckpointSnapshot,
  CleanReport,
  LatestValid,
  LoadedCheckpoint,
  LoadOptions,
  ReadError,
  RetainReport,
  SaveError,
  VerifyOptions,
  VerifyReport
} from "./storeTypes.ts"
import type { CheckpointWriter } from "./writer.ts"
import { makeWriterThreadDisk } from "./writerThreadDisk.ts"

export type * from "./storeTypes.ts"
export type { CheckpointWriter } from "./writer.ts"

export interface CheckpointStoreShape {
  /** `<runDir>/checkpoints`, or `s3://bucket/prefix` for an object store. */
  readonly location: string
  /** Where the checkpoint of `step` is (or would be) stored. */
  readonly stepLocation: (step: number) => string
  /** Saves atomically and returns once the checkpoint is durable. Replaces an existing step. */
  readonly save: (snapshot: CheckpointSnapshot) => Effect.Effect<CheckpointRef, SaveError>
  /**
   * Encodes (and so copies) the tensors now, then hashes and writes in the background — and then
   * applies `retain`, if given, there too, so that neither waits on the disk or the network in
   * the caller. Waits for a save still in flight first, and fails with its error if it failed.
   */
  readonly saveAsync: (
    snapshot: CheckpointSnapshot,
    options?: { readonly retain?: RetentionOptions }
  ) => Effect.Effect<void, SaveError>
  /** Waits for the background save, if any; its failure surfaces here (once). */
  readonly awaitPending: Effect.Effect<Option.Option<CheckpointRef>, SaveError>
  /** Step directories, newest first (temporary directories never appear). */
  readonly list: Effect.Effect<ReadonlyArray<CheckpointListing>, CheckpointIoError>
  /** The newest checkpoint that verifies, and the newer ones that did not. */
  readonly latestValid: Effect.Effect<LatestValid, CheckpointIoError>
  /** Reads and validates a manifest only; no tensor file is touched. */
  readonly manifest: (step: number) => Effect.Effect<CheckpointRef, ReadError>
  /** Loads the requested components, verifying size, sha256 and content of every file read. */
  readonly load: <C extends ComponentName = ComponentName>(
    step: number,
    options?: LoadOptions<C>
  ) => Effect.Effect<LoadedCheckpoint<C>, ReadError>
  /** Checks every file of a checkpoint and reports all problems found. */
  readonly verify: (
    step: number,
    options?: VerifyOptions
  ) => Effect.Effect<VerifyReport, CheckpointNotFound | CheckpointIoError>
  readonly delete: (step: number) => Effect.Effect<void, CheckpointNotFound | CheckpointIoError>
  /** Deletes what the retention rules do not keep (see `planRetention`). */
  readonly retain: (options: RetentionOptions) => Effect.Effect<RetainReport, CheckpointIoError>
  /** Removes leftovers of interrupted saves and deletes; runs when the layer starts. */
  readonly cleanTemp: Effect.Effect<CleanReport, CheckpointIoError>
}

/** The write side of a disk that renames: the publish protocol of publish.ts. */
const diskWriter = (context: StoreContext): CheckpointWriter => ({
  publish: (prepared) => publishCheckpoint(context, prepared),
  remove: (step) => removeStep(context, step),
  cleanTemp: cleanTempIn(context)
})

/** Builds the store over a storage backend; the layers below supply one. */
export const makeCheckpointStore = (
  disk: CheckpointDisk,
  runDir: string,
  options: { readonly cleanOnStart?: boolean } = {}
): Effect.Effect<CheckpointStoreShape, CheckpointIoError, Scope.Scope> => {
  const context: StoreContext = { disk, root: checkpointsDir(runDir), written: new Set<number>() }
  return makeStoreOver(context, diskWriter(context), options)
}

/** Builds the store over a read context and the matching write side. */
export const makeStoreOver = Effect.fnUntraced(function*(
  context: ReadContext,
  writer: CheckpointWriter,
  options: { readonly cleanOnStart?: boolean } = {}
): Effect.fn.Return<CheckpointStoreShape, CheckpointIoError, Scope.Scope> {
  const write = (prepared: PreparedSave) =>
    writer.publish(prepared).pipe(Effect.tap((ref) => Effect.sync(() => context.written.add(ref.step))))

  // ---- background saves ------------------------------------------------------------------

  // Writers take this lock, so a background save never races another save, a delete or
  // retention; the background fiber itself runs outside it.
  const lock = yield* Semaphore.make(1)
  const pending = yield* Ref.make<Option.Option<Fiber.Fiber<CheckpointRef, SaveError>>>(Option.none())
  // Background saves run in a child of the layer's scope. The finalizer added after it runs
  // first on shutdown and lets an in-flight save finish instead of interrupting it.
  const saves = yield* Scope.fork(yield* Effect.scope)

  /** Waits for the in-flight save and consumes its outcome. */
  const awaitPending = Effect.gen(function*() {
    const fiber = yield* Ref.getAndSet(pending, Option.none())
    if (Option.isNone(fiber)) return Option.none<CheckpointRef>()
    const exit = yield* Fiber.await(fiber.value)
    return Option.some(yield* exit)
  })

  /** Waits for the in-flight save without consuming its outcome. */
  const settle = Effect.gen(function*() {
    const fiber = yield* Ref.get(pending)
    if (Option.isSome(fiber)) yield* Fiber.await(fiber.value)
  })

  yield* Effect.addFinalizer(() =>
    awaitPending.pipe(
      Effect.catch((error) =>
        Effect.logError(`a background checkpoint save failed and was never awaited: ${error.message}`)
      )
    )
  )

  const save = (snapshot: CheckpointSnapshot) =>
    lock.withPermit(Effect.gen(function*() {
      yield* awaitPending
      return yield* write(yield* prepareSnapshot(snapshot))
    }))

  const saveAsync = (snapshot: CheckpointSnapshot, saveOptions?: { readonly retain?: RetentionOptions }) =>
    lock.withPermit(Effect.gen(function*() {
      yield* awaitPending
      const prepared = yield* prepareSnapshot(snapshot)
      const retention = saveOptions?.retain
      const background = retention === undefined
        ? write(prepared)
        : Effect.tap(write(prepared), () => retainCheckpoints(context, retention, writer.remove))
      const fiber = yield* Effect.forkIn(background, saves)
      yield* Ref.set(pending, Option.some(fiber))
    }))

  // ---- removal ---------------------------------------------------------------------------

  const deleteStep = (step: number) => lock.withPermit(Effect.andThen(settle, writer.remove(step)))

  const retain = (retention: RetentionOptions) =>
    lock.withPermit(Effect.andThen(settle, retainCheckpoints(context, retention, writer.remove)))

  const cleanTemp = writer.cleanTemp

  // A store opened only to read another run's checkpoints must not touch that run's saves.
  if (options.cleanOnStart !== false) yield* cleanTemp

  return {
    location: context.root,
    stepLocation: (step) => stepLocation(context, step),
    save,
    saveAsync,
    awaitPending,
    list: listCheckpoints(context),
    latestValid: findLatestValid(context),
    manifest: (step) => readManifest(context, step),
    load: (step, loadOptions) => loadCheckpoint(context, step, loadOptions),
    verify: (step, verifyOptions) => verifyCheckpoint(context, step, verifyOptions),
    delete: deleteStep,
    retain,
    cleanTemp: lock.withPermit(Effect.andThen(settle, cleanTemp))
  }
})

/**
 * A store over the object-store location `s3://bucket/prefix`. The bucket is checked first
 * (HeadBucket), then the listing under the prefix (`checkListing`): a missing bucket, refused
 * credentials or a hostile listing fail here, before any step.
 */
export const makeObjectStoreCheckpointStore = (
  location: string,
  options: { readonly cleanOnStart?: boolean } = {}
): Effect.Effect<CheckpointStoreShape, CheckpointStoreUnavailable | CheckpointIoError, Scope.Scope> =>
  Effect.gen(function*() {
    const parsed = parseObjectLocation(location)
    if (typeof parsed === "string") return yield* new CheckpointStoreUnavailable({ location, detail: parsed })
    const client = yield* Effect.acquireRelease(Effect.sync(makeS3Client), (c) => Effect.sync(() => c.destroy()))
    yield* checkBucket(client, parsed)
    const disk = makeObjectDisk(client, parsed)
    yield* checkListing(disk)
    const context: StoreContext<ObjectDisk> = { disk, root: disk.root, written: new Set<number>() }
    return yield* makeStoreOver(context, objectWriter(context), options)
  })

/**
 * The store a run's configuration names: `checkpoint.location` when set (an object store), else
 * `<runDir>/checkpoints` on the file system.
 */
export const openCheckpointStore = (
  runDir: string,
  location: string | undefined,
  options: { readonly cleanOnStart?: boolean } = {}
): Effect.Effect<
  CheckpointStoreShape,
  CheckpointStoreUnavailable | CheckpointIoError,
  Scope.Scope | FileSystem.FileSystem
> =>
  location === undefined
    ? Effect.flatMap(FileSystem.FileSystem, (fs) => makeCheckpointStore(fileSystemDisk(fs), runDir, options))
    : makeObjectStoreCheckpointStore(location, options)

export class CheckpointStore
  extends Context.Service<CheckpointStore, CheckpointStoreShape>()("continuum/CheckpointStore")
{
  /**
   * Checkpoints under `<runDir>/checkpoints` on the real file system (durable writes), written by a
   * worker thread so that background saves progress during training steps.
   */
  static readonly layerFileSystem = (
    runDir: string
  ): Layer.Layer<CheckpointStore, CheckpointIoError, FileSystem.FileSystem> =>
    Layer.effect(
      CheckpointStore,
      Effect.gen(function*() {
        const disk = yield* makeWriterThreadDisk(yield* FileSystem.FileSystem)
        return yield* makeCheckpointStore(disk, runDir)
      })
    )

  /** Checkpoints in an S3-compatible bucket, `s3://bucket/prefix` (see objectPublish.ts). */
  static readonly layerObjectStore = (
    location: string
  ): Layer.Layer<CheckpointStore, CheckpointStoreUnavailable | CheckpointIoError> =>
    Layer.effect(CheckpointStore, makeObjectStoreCheckpointStore(location))

  /** Checkpoints on a given storage backend (e.g. a memory disk a test inspects or damages). */
  static readonly layerDisk = (disk: CheckpointDisk, runDir: string): Layer.Layer<CheckpointStore, CheckpointIoError> =>
    Layer.effect(CheckpointStore, makeCheckpointStore(disk, runDir))

  /** A fresh in-memory store. */
  static readonly layerMemory: Layer.Layer<CheckpointStore, CheckpointIoError> = Layer.suspend(() =>
    CheckpointStore.layerDisk(makeMemoryDisk(), "/memory/run")
  )
}
