/**
 * Reading one checkpoint directory. Every file is checked against the manifest's size and sha256
 * before it is decoded, and every header against the manifest's tensor list; nothing read is
 * trusted before that.
 */
import { Effect, Option, Result } from "effect"
import type { OnProgress } from "../tensor/progress.ts"
import { sameShape, shapeString, type Tensor } from "../tensor/tensor.ts"
import {
  CheckpointCorrupt,
  type CheckpointIoError,
  CheckpointNotFound,
  type CheckpointProblem,
  type CorruptionReason
} from "./errors.ts"
import { joinLocation, stepDirName } from "./layout.ts"
import { type ComponentName, componentNames, decodeManifest, MANIFEST_FILE, MAX_MANIFEST_BYTES } from "./manifest.ts"
import { decodeSafetensors, readSafetensorsHeader, type SafetensorsHeader } from "./safetensors.ts"
import { sha256Hex, sha256HexReporting } from "./sha256.ts"
import { type ReadContext, stepLocation } from "./storeContext.ts"
import type {
  CheckpointRef,
  LoadedCheckpoint,
  LoadOptions,
  ReadError,
  VerifyOptions,
  VerifyReport
} from "./storeTypes.ts"

const corrupt = (context: ReadContext, step: number, file: string, reason: CorruptionReason, detail: string) =>
  new CheckpointCorrupt({ step, location: stepLocation(context, step), file, reason, detail })

/** Reads a file that must be a regular file of `expectedBytes` (checked before reading). */
const readChecked = (
  context: ReadContext,
  step: number,
  file: string,
  maxBytes: number,
  expectedBytes?: number
): Effect.Effect<Uint8Array, CheckpointCorrupt> =>
  Effect.gen(function*() {
    const { disk } = context
    const path = joinLocation(stepLocation(context, step), file)
    const info = yield* disk.stat(path).pipe(
      Effect.mapError((e) => corrupt(context, step, file, "Unreadable", e.message))
    )
    if (info === undefined) return yield* corrupt(context, step, file, "MissingFile", "the file does not exist")
    if (info.kind !== "File") {
      const found = info.kind === "Directory" ? "a directory" : "a link or special file"
      return yield* corrupt(context, step, file, "MissingFile", `${found} is there instead of a regular file`)
    }
    if (expectedBytes !== undefined && info.size !== expectedBytes) {
      return yield* corrupt(
        context,
        step,
        file,
        "SizeMismatch",
        `the file has ${info.size} bytes; the manifest says ${expectedBytes}`
      )
    }
    if (info.size > maxBytes) {
      return yield* corrupt(
        context,
        step,
        file,
        "InvalidManifest",
        `the file has ${info.size} bytes; the limit is ${maxBytes}`
      )
    }
    const bytes = yield* disk.readFile(path).pipe(
      Effect.mapError((e) => corrupt(context, step, file, "Unreadable", e.message))
    )
    if (expectedBytes !== undefined && bytes.length !== expectedBytes) {
      return yield* corrupt(
        context,
        step,
        file,
        "SizeMismatch",
        `read ${bytes.length} bytes; the manifest says ${expectedBytes}`
      )
    }
    return bytes
  })

/** Reads and validates a step's manifest; no tensor file is touched. */
export const readManifest = (context: ReadContext, step: number): Effect.Effect<CheckpointRef, ReadError> =>
  Effect.gen(function*() {
    const location = stepLocation(context, step)
    context.written.delete(step)
    const info = yield* context.disk.stat(location)
    if (info === undefined || info.kind !== "Directory") return yield* new CheckpointNotFound({ step, location })
    const bytes = yield* readChecked(context, step, MANIFEST_FILE, MAX_MANIFEST_BYTES)
    const manifest = yield* decodeManifest(bytes, joinLocation(location, MANIFEST_FILE)).pipe(
      Effect.mapError((e) =>
        e.reason === "DigestMismatch" || e.reason === "MissingDigest"
          ? corrupt(context, step, MANIFEST_FILE, "HashMismatch", e.detail)
          : corrupt(context, step, MANIFEST_FILE, "InvalidManifest", `${e.reason}: ${e.detail}`)
      )
    )
    if (manifest.step !== step) {
      return yield* corrupt(
        context,
        step,
        MANIFEST_FILE,
        "StepMismatch",
        `the manifest is for step ${manifest.step}, its directory for step ${step}`
      )
    }
    return { step, location, manifest } satisfies CheckpointRef
  })

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
      return `tensor ${JSON.stringify(entry.name)} has shape ${shapeString(entry.shape)}; the manifest says ${
        shapeString(expected[entry.name])
      }`
    }
  }
  const absent = Object.keys(expected).find((name) => !seen.has(name))
  return absent === undefined ? undefined : `tensor ${JSON.stringify(absent)} is in the manifest but not in the file`
}

/** Reads one tensor file and checks size, hash and header; decodes the tensors when asked. */
const readComponent = (
  context: ReadContext,
  ref: CheckpointRef,
  component: ComponentName,
  decode: boolean,
  onProgress: OnProgress | undefined
): Effect.Effect<Record<string, Tensor> | undefined, CheckpointCorrupt> =>
  Effect.gen(function*() {
    const entry = ref.manifest.components[component]
    const task = `${decode ? "load" : "verify"} ${stepDirName(ref.step)}/${entry.file}`
    onProgress?.({ task, done: 0, total: entry.bytes, unit: "bytes" })
    const bytes = yield* readChecked(context, ref.step, entry.file, Number.MAX_SAFE_INTEGER, entry.bytes)
    const hash = onProgress === undefined
      ? sha256Hex(bytes)
      : sha256HexReporting(bytes, (hashed) => onProgress({ task, done: hashed, total: bytes.length, unit: "bytes" }))
    if (hash !== entry.sha256) {
      return yield* corrupt(
        context,
        ref.step,
        entry.file,
        "HashMismatch",
        `sha256 is ${hash}; the manifest says ${entry.sha256}`
      )
    }
    const options = { file: joinLocation(ref.location, entry.file) }
    const header = readSafetensorsHeader(bytes, options)
    if (Result.isFailure(header)) {
      return yield* corrupt(context, ref.step, entry.file, "InvalidTensors", header.failure.message)
    }
    const mismatch = tensorListMismatch(header.success, entry.tensors)
    if (mismatch !== undefined) {
      return yield* corrupt(context, ref.step, entry.file, "TensorMismatch", mismatch)
    }
    if (!decode) {
      return undefined
    }
    const decoded = decodeSafetensors(bytes, options)
    if (Result.isFailure(decoded)) {
      return yield* corrupt(context, ref.step, entry.file, "InvalidTensors", decoded.failure.message)
    }
    return decoded.success.tensors
  })

const asProblem = (error: CheckpointCorrupt): CheckpointProblem => ({
  file: error.file,
  reason: error.reason,
  detail: error.detail
})

/** Checks every file of a checkpoint and reports all problems found. */
export const verifyCheckpoint = (
  context: ReadContext,
  step: number,
  options?: VerifyOptions
): Effect.Effect<VerifyReport, CheckpointNotFound | CheckpointIoError> =>
  Effect.gen(function*() {
    const location = stepLocation(context, step)
    const manifest = yield* Effect.result(readManifest(context, step))
    if (Result.isFailure(manifest)) {
      const error = manifest.failure
      if (error._tag !== "CheckpointCorrupt") return yield* error
      return { step, location, problems: [asProblem(error)], manifest: Option.none() }
    }
    const problems: Array<CheckpointProblem> = []
    for (const component of componentNames) {
      const checked = yield* Effect.result(
        readComponent(context, manifest.success, component, false, options?.onProgress)
      )
      if (Result.isFailure(checked)) problems.push(asProblem(checked.failure))
    }
    return { step, location, problems, manifest: Option.some(manifest.success.manifest) }
  })

/** Loads the requested components, verifying size, sha256 and content of every file read. */
export const loadCheckpoint = <C extends ComponentName = ComponentName>(
  context: ReadContext,
  step: number,
  options?: LoadOptions<C>
): Effect.Effect<LoadedCheckpoint<C>, ReadError> =>
  Effect.gen(function*() {
    const ref = yield* readManifest(context, step)
    const wanted: ReadonlyArray<ComponentName> = options?.components ?? componentNames
    const tensors: Partial<Record<ComponentName, Record<string, Tensor>>> = {}
    for (const component of new Set(wanted)) {
      tensors[component] = (yield* readComponent(context, ref, component, true, options?.onProgress))!
    }
    return { ...ref, tensors: tensors as { readonly [K in C]: Record<string, Tensor> } } satisfies LoadedCheckpoint<C>
  })
