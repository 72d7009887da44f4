/**
 * The checkpoint store: atomic saves (optionally in the background), listing, verification,
 * loading, deletion and retention of `<runDir>/checkpoints/step-…` directories.
 *
 * It knows nothing of training: a snapshot is named tensors per component plus JSON state.
 * Integrity rests on three rules. A checkpoint directory only ever appears by renaming a fully
 * written and fsynced temporary directory, with manifest.json written last. Every file read is
 * checked against the manifest's size and sha256 before it is decoded. And every name, header
 * and manifest field is validated before use — nothing in a checkpoint is ever executed.
 */
import { createHash, randomBytes } from "node:crypto"
import * as NodePath from "node:path"
import { Clock, Context, Effect, Fiber, FileSystem, Layer, Option, Ref, Result, Scope, Semaphore } from "effect"
import { sameShape, shapeString, type Tensor } from "../tensor/tensor.ts"
import { type CheckpointDisk, fileSystemDisk, makeMemoryDisk } from "./disk.ts"
import {
  CheckpointCorrupt,
  CheckpointIoError,
  CheckpointNotFound,
  type CheckpointProblem,
  type CorruptionReason,
  InvalidSnapshot
} from "./errors.ts"
import {
  checkpointsDir,
  componentFileName,
  parseReplacedDirName,
  parseStepDirName,
  REPLACED_PREFIX,
  replacedDirName,
  stepDirName,
  TEMP_PREFIX,
  tempDirName
} from "./layout.ts"
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type ComponentName,
  componentNames,
  decodeManifest,
  encodeManifest,
  type Fingerprints,
  type Lineage,
  type Manifest,
  MANIFEST_FILE,
  MAX_MANIFEST_BYTES
} from "./manifest.ts"
import { type BackgroundWriter, makeBackgroundWriter } from "./backgroundWriter.ts"
import { latestToKeep, planRetention, type RetentionCandidate, type RetentionOptions } from "./retention.ts"
import { decodeSafetensors, encodeSafetensors, readSafetensorsHeader, type SafetensorsHeader } from "./safetensors.ts"

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

export interface CheckpointStoreShape {
  /** `<runDir>/checkpoints`. */
  readonly location: string
  /** Saves atomically and returns once the checkpoint is durable. Replaces an existing step. */
  readonly save: (snapshot: CheckpointSnapshot) => Effect.Effect<CheckpointRef, SaveError>
  /**
   * Encodes (and so copies) the tensors now, then hashes and writes in the background. Waits for
   * a save still in flight first, and fails with its error if it failed.
   */
  readonly saveAsync: (snapshot: CheckpointSnapshot) => Effect.Effect<void, SaveError>
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
  readonly verify: (step: number) => Effect.Effect<VerifyReport, CheckpointNotFound | CheckpointIoError>
  readonly delete: (step: number) => Effect.Effect<void, CheckpointNotFound | CheckpointIoError>
  /** Deletes what the retention rules do not keep (see `planRetention`). */
  readonly retain: (options: RetentionOptions) => Effect.Effect<RetainReport, CheckpointIoError>
  /** Removes leftovers of interrupted saves and deletes; runs when the layer starts. */
  readonly cleanTemp: Effect.Effect<CleanReport, CheckpointIoError>
}

/** A snapshot turned into bytes and a validated manifest, ready to be hashed and written. */
interface PreparedSave {
  readonly step: number
  readonly files: ReadonlyArray<{ readonly component: ComponentName; readonly file: string; readonly bytes: Uint8Array }>
  /** The manifest with placeholder sizes and hashes, filled in when written. */
  readonly manifest: Manifest
}

const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

const randomId = (): string => randomBytes(6).toString("hex")

const PLACEHOLDER_SHA256 = "0".repeat(64)

const shapesOf = (tensors: Readonly<Record<string, Tensor>>): Record<string, ReadonlyArray<number>> =>
  Object.fromEntries(Object.keys(tensors).sort().map((name) => [name, [...tensors[name].shape]]))

/** Differences between a tensor file's header and the manifest's list, or undefined if none. */
const tensorListMismatch = (
  header: SafetensorsHeader,
  expected: Readonly<Record<string, ReadonlyArray<number>>>
): string | undefined => {
  const seen = new Set<string>()
  for (const entry of header.entries) {
    seen.add(entry.name)
    if (entry.dtype !== "F32") return `tensor ${JSON.stringify(entry.name)} is ${entry.dtype}; checkpoints hold F32`
    if (!Object.hasOwn(expected, entry.name)) return `tensor ${JSON.stringify(entry.name)} is not in the manifest`
    if (!sameShape(entry.shape, expected[entry.name])) {
      return `tensor ${JSON.stringify(entry.name)} has shape ${shapeString(entry.shape)}; the manifest says ${shapeString(expected[entry.name])}`
    }
  }
  const absent = Object.keys(expected).find((name) => !seen.has(name))
  return absent === undefined ? undefined : `tensor ${JSON.stringify(absent)} is in the manifest but not in the file`
}

const isStep = (step: number): boolean => Number.isSafeInteger(step) && step >= 0

/** Builds the store over a storage backend; the layers below supply one. */
export const makeCheckpointStore = Effect.fnUntraced(function*(
  disk: CheckpointDisk,
  runDir: string,
  options: {
    readonly cleanOnStart?: boolean
    /** Writes saves on a worker thread (the file-system layer); without it, through `disk`. */
    readonly writer?: BackgroundWriter
  } = {}
): Effect.fn.Return<CheckpointStoreShape, CheckpointIoError, Scope.Scope> {
  const root = checkpointsDir(runDir)
  const stepDir = (step: number) => NodePath.join(root, stepDirName(step))

  // ---- reading ---------------------------------------------------------------------------

  const corrupt = (step: number, file: string, reason: CorruptionReason, detail: string) =>
    new CheckpointCorrupt({ step, location: stepDir(step), file, reason, detail })

  /** Reads a file that must be a regular file of `expectedBytes` (checked before reading). */
  const readChecked = (step: number, file: string, maxBytes: number, expectedBytes?: number) =>
    Effect.gen(function*() {
      const path = NodePath.join(stepDir(step), file)
      const info = yield* disk.stat(path).pipe(Effect.mapError((e) => corrupt(step, file, "Unreadable", e.message)))
      if (info === undefined) return yield* corrupt(step, file, "MissingFile", "the file does not exist")
      if (info.kind !== "File") {
        const found = info.kind === "Directory" ? "a directory" : "a link or special file"
        return yield* corrupt(step, file, "MissingFile", `${found} is there instead of a regular file`)
      }
      if (expectedBytes !== undefined && info.size !== expectedBytes) {
        return yield* corrupt(step, file, "SizeMismatch", `the file has ${info.size} bytes; the manifest says ${expectedBytes}`)
      }
      if (info.size > maxBytes) {
        return yield* corrupt(step, file, "InvalidManifest", `the file has ${info.size} bytes; the limit is ${maxBytes}`)
      }
      const bytes = yield* disk.readFile(path).pipe(Effect.mapError((e) => corrupt(step, file, "Unreadable", e.message)))
      if (expectedBytes !== undefined && bytes.length !== expectedBytes) {
        return yield* corrupt(step, file, "SizeMismatch", `read ${bytes.length} bytes; the manifest says ${expectedBytes}`)
      }
      return bytes
    })

  const readManifest = (step: number) =>
    Effect.gen(function*() {
      const location = stepDir(step)
      written.delete(step)
      const info = yield* disk.stat(location)
      if (info === undefined || info.kind !== "Directory") return yield* new CheckpointNotFound({ step, location })
      const bytes = yield* readChecked(step, MANIFEST_FILE, MAX_MANIFEST_BYTES)
      const manifest = yield* decodeManifest(bytes, NodePath.join(location, MANIFEST_FILE)).pipe(
        Effect.mapError((e) => corrupt(step, MANIFEST_FILE, "InvalidManifest", `${e.reason}: ${e.detail}`))
      )
      if (manifest.step !== step) {
        return yield* corrupt(step, MANIFEST_FILE, "StepMismatch", `the manifest is for step ${manifest.step}, its directory for step ${step}`)
      }
      return { step, location, manifest } satisfies CheckpointRef
    })

  /** Reads one tensor file and checks size, hash and header; decodes the tensors when asked. */
  const readComponent = (ref: CheckpointRef, component: ComponentName, decode: boolean) =>
    Effect.gen(function*() {
      const entry = ref.manifest.components[component]
      const bytes = yield* readChecked(ref.step, entry.file, Number.MAX_SAFE_INTEGER, entry.bytes)
      const hash = sha256Hex(bytes)
      if (hash !== entry.sha256) {
        return yield* corrupt(ref.step, entry.file, "HashMismatch", `sha256 is ${hash}; the manifest says ${entry.sha256}`)
      }
      const options = { file: NodePath.join(ref.location, entry.file) }
      const header = readSafetensorsHeader(bytes, options)
      if (Result.isFailure(header)) return yield* corrupt(ref.step, entry.file, "InvalidTensors", header.failure.message)
      const mismatch = tensorListMismatch(header.success, entry.tensors)
      if (mismatch !== undefined) return yield* corrupt(ref.step, entry.file, "TensorMismatch", mismatch)
      if (!decode) return undefined
      const decoded = decodeSafetensors(bytes, options)
      if (Result.isFailure(decoded)) return yield* corrupt(ref.step, entry.file, "InvalidTensors", decoded.failure.message)
      return decoded.success.tensors
    })

  const asProblem = (error: CheckpointCorrupt): CheckpointProblem => ({ file: error.file, reason: error.reason, detail: error.detail })

  const verify = (step: number): Effect.Effect<VerifyReport, CheckpointNotFound | CheckpointIoError> =>
    Effect.gen(function*() {
      const location = stepDir(step)
      const manifest = yield* Effect.result(readManifest(step))
      if (Result.isFailure(manifest)) {
        const error = manifest.failure
        if (error._tag !== "CheckpointCorrupt") return yield* error
        return { step, location, problems: [asProblem(error)], manifest: Option.none() }
      }
      const problems: Array<CheckpointProblem> = []
      for (const component of componentNames) {
        const checked = yield* Effect.result(readComponent(manifest.success, component, false))
        if (Result.isFailure(checked)) problems.push(asProblem(checked.failure))
      }
      return { step, location, problems, manifest: Option.some(manifest.success.manifest) }
    })

  const load = <C extends ComponentName = ComponentName>(step: number, options?: LoadOptions<C>) =>
    Effect.gen(function*() {
      const ref = yield* readManifest(step)
      const wanted: ReadonlyArray<ComponentName> = options?.components ?? componentNames
      const tensors: Partial<Record<ComponentName, Record<string, Tensor>>> = {}
      for (const component of new Set(wanted)) {
        tensors[component] = (yield* readComponent(ref, component, true))!
      }
      return { ...ref, tensors: tensors as { readonly [K in C]: Record<string, Tensor> } } satisfies LoadedCheckpoint<C>
    })

  const list = Effect.gen(function*() {
    const names = yield* disk.listDirectories(root)
    const listings: Array<CheckpointListing> = []
    for (const name of names) {
      const step = parseStepDirName(name)
      if (step === undefined) continue
      const location = stepDir(step)
      const manifest = yield* disk.stat(NodePath.join(location, MANIFEST_FILE))
      listings.push({ step, location, hasManifest: manifest !== undefined })
    }
    return listings.sort((a, b) => b.step - a.step)
  })

  const latestValid = Effect.gen(function*() {
    const skipped: Array<VerifyReport> = []
    for (const { step, location } of yield* list) {
      const report = yield* verify(step).pipe(
        // A directory removed between listing and verifying is simply no longer a candidate.
        Effect.catchTag("CheckpointNotFound", () => Effect.succeed(undefined))
      )
      if (report === undefined) continue
      if (report.problems.length === 0 && Option.isSome(report.manifest)) {
        return { latest: Option.some({ step, location, manifest: report.manifest.value }), skipped } satisfies LatestValid
      }
      skipped.push(report)
    }
    return { latest: Option.none(), skipped } satisfies LatestValid
  })

  // ---- writing ---------------------------------------------------------------------------

  const invalid = (field: string, detail: string) => new InvalidSnapshot({ field, detail })

  /** Validates and encodes a snapshot; from here on the caller's arrays are no longer read. */
  const prepare = (snapshot: CheckpointSnapshot) =>
    Effect.gen(function*() {
      if (!isStep(snapshot.step)) return yield* invalid("step", `expected a non-negative integer, got ${snapshot.step}`)
      const files: Array<PreparedSave["files"][number]> = []
      for (const component of componentNames) {
        const file = componentFileName(component)
        const bytes = encodeSafetensors(snapshot.tensors[component], { file, metadata: { format: "pt" } })
        if (Result.isFailure(bytes)) return yield* invalid(`tensors.${component}`, bytes.failure.message)
        files.push({ component, file, bytes: bytes.success })
      }
      const millis = yield* Clock.currentTimeMillis
      const candidate = {
        format: CHECKPOINT_FORMAT,
        version: CHECKPOINT_VERSION,
        runId: snapshot.runId,
        step: snapshot.step,
        time: new Date(millis).toISOString(),
        ...(snapshot.parent === undefined ? {} : { parent: snapshot.parent }),
        config: snapshot.config,
        fingerprints: snapshot.fingerprints,
        components: Object.fromEntries(componentNames.map((component) => [component, {
          file: componentFileName(component),
          bytes: 0,
          sha256: PLACEHOLDER_SHA256,
          tensors: shapesOf(snapshot.tensors[component])
        }])),
        state: snapshot.state
      }
      // Validating now reports a non-JSON config or state to the caller rather than to a
      // background fiber; the round trip through JSON also detaches it from the caller's objects.
      const text = yield* encodeManifest(candidate, "manifest").pipe(
        Effect.mapError((e) => invalid("manifest", `${e.reason}: ${e.detail}`))
      )
      const manifest = JSON.parse(new TextDecoder().decode(text)) as Manifest
      return { step: snapshot.step, files, manifest } satisfies PreparedSave
    })

  /** Moves the finished temporary directory into place, replacing an existing checkpoint. */
  const publish = (prepared: PreparedSave, temp: string, id: string) =>
    Effect.gen(function*() {
      const target = stepDir(prepared.step)
      const existing = yield* disk.stat(target)
      if (existing === undefined) {
        yield* disk.rename(temp, target)
        yield* disk.syncDirectory(root)
        return
      }
      // The old checkpoint steps aside under a name `cleanTemp` restores if we stop right here.
      const displaced = NodePath.join(root, replacedDirName(prepared.step, id))
      yield* disk.rename(target, displaced)
      yield* disk.rename(temp, target).pipe(
        Effect.tapError(() => Effect.ignore(disk.rename(displaced, target)))
      )
      yield* disk.syncDirectory(root)
      yield* disk.removeDirectory(displaced)
    }).pipe(Effect.uninterruptible)

  /** The same save on the writer thread: everything from the first file to the parent fsync. */
  const writeInBackground = (writer: BackgroundWriter, prepared: PreparedSave) =>
    Effect.gen(function*() {
      const id = randomId()
      const placeholders = Object.fromEntries(prepared.files.map((f) => [f.component, randomBytes(32).toString("hex")]))
      const withPlaceholders = (hashes: Record<string, string>): Manifest => ({
        ...prepared.manifest,
        components: Object.fromEntries(prepared.files.map(({ component, bytes }) => [component, {
          ...prepared.manifest.components[component],
          bytes: bytes.length,
          sha256: hashes[component]!
        }])) as Manifest["components"]
      })
      const text = yield* encodeManifest(withPlaceholders(placeholders), "manifest").pipe(
        Effect.mapError((e) => invalid("manifest", `${e.reason}: ${e.detail}`))
      )
      const hashes = yield* writer.write({
        root,
        temp: NodePath.join(root, tempDirName(prepared.step, id)),
        target: stepDir(prepared.step),
        displaced: NodePath.join(root, replacedDirName(prepared.step, id)),
        files: prepared.files.map(({ component, file, bytes }) => ({ component, name: file, bytes, placeholder: placeholders[component]! })),
        manifestName: MANIFEST_FILE,
        manifest: new TextDecoder().decode(text)
      })
      return { step: prepared.step, location: stepDir(prepared.step), manifest: withPlaceholders(hashes) } satisfies CheckpointRef
    })

  const writeOnDisk = (prepared: PreparedSave) =>
    Effect.gen(function*() {
      yield* disk.makeDirectory(root)
      const id = randomId()
      const temp = NodePath.join(root, tempDirName(prepared.step, id))
      yield* disk.makeDirectory(temp)
      const manifest = yield* Effect.gen(function*() {
        const components: Record<string, Manifest["components"][ComponentName]> = {}
        for (const { component, file, bytes } of prepared.files) {
          components[component] = { ...prepared.manifest.components[component], bytes: bytes.length, sha256: sha256Hex(bytes) }
          yield* disk.writeFileDurable(NodePath.join(temp, file), bytes)
        }
        const manifest = { ...prepared.manifest, components: components as Manifest["components"] }
        const text = yield* encodeManifest(manifest, "manifest").pipe(
          Effect.mapError((e) => invalid("manifest", `${e.reason}: ${e.detail}`))
        )
        yield* disk.writeFileDurable(NodePath.join(temp, MANIFEST_FILE), text)
        yield* disk.syncDirectory(temp)
        yield* publish(prepared, temp, id)
        return manifest
      }).pipe(Effect.onError(() => Effect.ignore(disk.removeDirectory(temp))))
      return { step: prepared.step, location: stepDir(prepared.step), manifest } satisfies CheckpointRef
    })

  // Steps this store has itself written and published. Retention trusts these without hashing
  // them again, which would otherwise cost as much as the save on every checkpoint.
  const written = new Set<number>()

  const write = (prepared: PreparedSave) =>
    (options.writer !== undefined ? writeInBackground(options.writer, prepared) : writeOnDisk(prepared)).pipe(
      Effect.tap((ref) => Effect.sync(() => written.add(ref.step)))
    )

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
      Effect.catch((error) => Effect.logError(`a background checkpoint save failed and was never awaited: ${error.message}`))
    )
  )

  const save = (snapshot: CheckpointSnapshot) =>
    lock.withPermit(Effect.gen(function*() {
      yield* awaitPending
      return yield* write(yield* prepare(snapshot))
    }))

  const saveAsync = (snapshot: CheckpointSnapshot) =>
    lock.withPermit(Effect.gen(function*() {
      yield* awaitPending
      const prepared = yield* prepare(snapshot)
      const fiber = yield* Effect.forkIn(write(prepared), saves)
      yield* Ref.set(pending, Option.some(fiber))
    }))

  const removeStep = (step: number) =>
    Effect.gen(function*() {
      const location = stepDir(step)
      written.delete(step)
      const info = yield* disk.stat(location)
      if (info === undefined || info.kind !== "Directory") return yield* new CheckpointNotFound({ step, location })
      // Renamed away first, so a crash mid-removal never leaves a half-deleted checkpoint.
      const doomed = NodePath.join(root, `${TEMP_PREFIX}delete-${stepDirName(step)}-${randomId()}`)
      yield* disk.rename(location, doomed)
      yield* disk.syncDirectory(root)
      yield* disk.removeDirectory(doomed)
    })

  const deleteStep = (step: number) => lock.withPermit(Effect.andThen(settle, removeStep(step)))

  const retain = (options: RetentionOptions) =>
    lock.withPermit(Effect.gen(function*() {
      yield* settle
      // Verify newest first only until enough valid checkpoints are found; older ones are
      // decided by step alone.
      const wanted = latestToKeep(options)
      const candidates: Array<RetentionCandidate> = []
      let validFound = 0
      for (const { step } of yield* list) {
        if (validFound >= wanted) {
          candidates.push({ step, valid: undefined })
          continue
        }
        if (written.has(step)) {
          validFound += 1
          candidates.push({ step, valid: true })
          continue
        }
        const report = yield* verify(step).pipe(Effect.catchTag("CheckpointNotFound", () => Effect.succeed(undefined)))
        if (report === undefined) continue
        const valid = report.problems.length === 0
        if (valid) validFound += 1
        candidates.push({ step, valid })
      }
      const plan = planRetention(candidates, options)
      for (const step of plan.remove) {
        yield* removeStep(step).pipe(Effect.catchTag("CheckpointNotFound", () => Effect.void))
      }
      return { kept: plan.keep, deleted: plan.remove } satisfies RetainReport
    }))

  const cleanTemp = Effect.gen(function*() {
    const names = yield* disk.listDirectories(root)
    const removed: Array<string> = []
    const restored: Array<number> = []
    for (const name of names) {
      if (name.startsWith(TEMP_PREFIX)) {
        yield* disk.removeDirectory(NodePath.join(root, name))
        removed.push(name)
      } else if (name.startsWith(REPLACED_PREFIX)) {
        const step = parseReplacedDirName(name)
        const path = NodePath.join(root, name)
        if (step !== undefined && (yield* disk.stat(stepDir(step))) === undefined) {
          yield* disk.rename(path, stepDir(step))
          restored.push(step)
        } else {
          yield* disk.removeDirectory(path)
          removed.push(name)
        }
      }
    }
    if (removed.length > 0 || restored.length > 0) yield* disk.syncDirectory(root)
    return { removed, restored } satisfies CleanReport
  })

  // A store opened only to read another run's checkpoints must not touch that run's saves.
  if (options.cleanOnStart !== false) yield* cleanTemp

  return {
    location: root,
    save,
    saveAsync,
    awaitPending,
    list,
    latestValid,
    manifest: readManifest,
    load,
    verify,
    delete: deleteStep,
    retain,
    cleanTemp: lock.withPermit(Effect.andThen(settle, cleanTemp))
  }
})

export class CheckpointStore extends Context.Service<CheckpointStore, CheckpointStoreShape>()("continuum/CheckpointStore") {
  /** Checkpoints under `<runDir>/checkpoints` on the real file system (durable writes). */
  static readonly layerFileSystem = (runDir: string): Layer.Layer<CheckpointStore, CheckpointIoError, FileSystem.FileSystem> =>
    Layer.effect(
      CheckpointStore,
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const writer = yield* makeBackgroundWriter
        return yield* makeCheckpointStore(fileSystemDisk(fs), runDir, { writer })
      })
    )

  /** Checkpoints on a given storage backend (e.g. a memory disk a test inspects or damages). */
  static readonly layerDisk = (disk: CheckpointDisk, runDir: string): Layer.Layer<CheckpointStore, CheckpointIoError> =>
    Layer.effect(CheckpointStore, makeCheckpointStore(disk, runDir))

  /** A fresh in-memory store. */
  static readonly layerMemory: Layer.Layer<CheckpointStore, CheckpointIoError> = Layer.suspend(() =>
    CheckpointStore.layerDisk(makeMemoryDisk(), "/memory/run")
  )
}
