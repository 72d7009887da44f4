/**
 * `manifest.json`, version 1: what a checkpoint is, where it came from, and the size and sha256 of
 * each tensor file. The manifest is written last, so its presence marks a complete checkpoint.
 * Its `digest` is the sha256 of its own canonical content (every field but `digest`), checked
 * before anything in it is used: an edited cursor or step is caught like a flipped tensor byte.
 *
 * Non-tensor state (schedule, data cursor, RNG counters, optimizer kind, …) and the run
 * configuration are plain JSON here; the services that own them decode their own parts.
 */
import { Effect, Result, Schema } from "effect"
import { jsonDepth } from "../config/jsonText.ts"
import { NonNegativeInt } from "../config/primitives.ts"
import { canonicalJson } from "./canonicalJson.ts"
import { describeName, tensorNameProblem } from "./safetensors.ts"
import { sha256Hex } from "./sha256.ts"

export const CHECKPOINT_FORMAT = "continuum-checkpoint"
export const CHECKPOINT_VERSION = 1
export const MANIFEST_FILE = "manifest.json"
/** A manifest larger than this is refused before it is read. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024
/** Deeper JSON is refused before it is parsed; a real manifest nests a handful of levels. */
export const MAX_MANIFEST_DEPTH = 64
/** Tensor names in a manifest obey the same limit as in a safetensors header. */
const MAX_TENSOR_NAME_BYTES = 256

const describe = (value: unknown): string => {
  const text = typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value))
  return text.length <= 120 ? text : `${text.slice(0, 120)}…`
}

const fileNamePattern = /^[A-Za-z0-9._-]{1,64}$/

/**
 * A plain base name inside the checkpoint directory: no separators, no `.`/`..`, nothing a path
 * could be built from. This is what keeps a hostile manifest from pointing outside its directory.
 */
export const CheckpointFileName = Schema.String.check(
  Schema.makeFilter((name: string) =>
    fileNamePattern.test(name) && name !== "." && name !== ".."
      ? undefined
      : `expected a plain file name (1–64 characters from A–Z a–z 0–9 . _ -, not "." or ".."), got ${describe(name)}`
  )
)

export const Sha256Hex = Schema.String.check(
  Schema.makeFilter((hash: string) =>
    /^[0-9a-f]{64}$/.test(hash) ? undefined : `expected 64 lowercase hex digits, got ${describe(hash)}`
  )
)

const NonEmptyText = Schema.String.check(
  Schema.makeFilter((text: string) =>
    text.length > 0 && text.length <= 256 ? undefined : `expected 1–256 characters, got ${describe(text)}`
  )
)

const isoInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/

/** An ISO 8601 instant such as `2025-01-31T12:00:00.000Z`. */
export const IsoTime = Schema.String.check(
  Schema.makeFilter((time: string) =>
    isoInstant.test(time) && !Number.isNaN(Date.parse(time))
      ? undefined
      : `expected an ISO 8601 instant, got ${describe(time)}`
  )
)

export const ManifestDigest = Schema.String.check(
  Schema.makeFilter((digest: string) =>
    /^sha256:[0-9a-f]{64}$/.test(digest)
      ? undefined
      : `expected sha256: and 64 lowercase hex digits, got ${describe(digest)}`
  )
)

export const ComponentName = Schema.Literals(["model", "optimizer"])
export type ComponentName = typeof ComponentName.Type
export const componentNames: ReadonlyArray<ComponentName> = ComponentName.literals

export const TensorShape = Schema.Array(NonNegativeInt)

/**
 * Tensor name → shape. Names are checked by a filter on the whole record rather than by a key
 * schema, because a refined key schema drops non-matching keys silently instead of failing.
 */
export const TensorShapes = Schema.Record(Schema.String, TensorShape).check(
  Schema.makeFilter((shapes: Readonly<Record<string, ReadonlyArray<number>>>) => {
    const issues: Array<Schema.FilterIssue> = []
    for (const name of Object.keys(shapes)) {
      const problem = tensorNameProblem(name, MAX_TENSOR_NAME_BYTES)
      if (problem !== undefined) {
        issues.push({ path: [name], issue: `invalid tensor name ${describeName(name)}: ${problem}` })
      }
    }
    return issues
  })
)

/** One tensor file of a checkpoint. */
export const ComponentFile = Schema.Struct({
  file: CheckpointFileName,
  bytes: NonNegativeInt,
  sha256: Sha256Hex,
  /** The float32 tensors the file holds; loading checks the file against this list. */
  tensors: TensorShapes
})
export type ComponentFile = typeof ComponentFile.Type

/** Where a run was resumed from: the lineage of a checkpoint. */
export const Lineage = Schema.Struct({
  runId: NonEmptyText,
  step: NonNegativeInt,
  policy: NonEmptyText
})
export type Lineage = typeof Lineage.Type

export const Fingerprints = Schema.Struct({
  /** Hash of the trajectory-relevant configuration. */
  trajectory: Schema.String,
  /** Hash of the dataset (source, tokenization, split). */
  dataset: Schema.String,
  /** Hash of the model architecture (parameter names and shapes). */
  model: Schema.String
})
export type Fingerprints = typeof Fingerprints.Type

export const Components = Schema.Struct({
  model: ComponentFile,
  optimizer: ComponentFile
})

export const Manifest = Schema.Struct({
  format: Schema.Literal(CHECKPOINT_FORMAT),
  version: Schema.Literal(CHECKPOINT_VERSION),
  runId: NonEmptyText,
  step: NonNegativeInt,
  time: IsoTime,
  parent: Schema.optionalKey(Lineage),
  /** The full encoded run configuration. */
  config: Schema.Json,
  fingerprints: Fingerprints,
  components: Components,
  /** Non-tensor state by owner (schedule, data, rng, optimizer, counters). */
  state: Schema.JsonObject,
  /** `sha256:` and the hex sha256 of the canonical JSON of every other field. */
  digest: ManifestDigest
}).check(
  Schema.makeFilter((manifest: { readonly components: typeof Components.Type }) => {
    const issues: Array<Schema.FilterIssue> = []
    const seen = new Map<string, string>()
    for (const name of componentNames) {
      const file = manifest.components[name].file
      if (file === MANIFEST_FILE) {
        issues.push({ path: ["components", name, "file"], issue: `a component may not be stored as ${MANIFEST_FILE}` })
      }
      const other = seen.get(file)
      if (other !== undefined) {
        issues.push({
          path: ["components", name, "file"],
          issue: `${describe(file)} is already the file of component ${other}`
        })
      }
      seen.set(file, name)
    }
    return issues
  })
)
export type Manifest = typeof Manifest.Type

export const ManifestProblem = Schema.Literals([
  "TooLarge",
  "NotUtf8",
  "NotJson",
  "TooDeep",
  "NotAnObject",
  "MissingDigest",
  "DigestMismatch",
  "WrongFormat",
  "UnsupportedVersion",
  "Invalid"
])
export type ManifestProblem = typeof ManifestProblem.Type

export class ManifestError extends Schema.TaggedError<ManifestError>()("ManifestError", {
  /** The manifest's path or label. */
  source: Schema.String,
  reason: ManifestProblem,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.source}: ${this.reason}: ${this.detail}`
  }
}

const validate = Schema.decodeUnknownResult(Manifest)

const isObject = (value: unknown): value is object =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** A manifest before it is sealed with its digest. */
export type ManifestContent = Omit<Manifest, "digest">

/** The digest of a manifest's content: everything but the `digest` field itself. */
export const manifestDigest = (manifest: object): string => {
  const { digest: _, ...content } = manifest as Record<string, unknown>
  return `sha256:${sha256Hex(canonicalJson(content))}`
}

/** The content with its digest. */
export const sealManifest = (content: ManifestContent): Manifest => ({ ...content, digest: manifestDigest(content) })

const checkManifest = (candidate: unknown, source: string): Result.Result<Manifest, ManifestError> => {
  const fail = (reason: ManifestProblem, detail: string) => Result.fail(new ManifestError({ source, reason, detail }))
  if (!isObject(candidate)) {
    return fail("NotAnObject", `the manifest is ${describe(candidate)}, not a JSON object`)
  }
  // Format and version are checked first, so a file from elsewhere or a newer version is named
  // as such rather than reported as a pile of schema mismatches.
  const { format, version } = candidate as { format?: unknown; version?: unknown }
  if (format !== CHECKPOINT_FORMAT) {
    return fail("WrongFormat", `format is ${describe(format)}; expected ${JSON.stringify(CHECKPOINT_FORMAT)}`)
  }
  if (version !== CHECKPOINT_VERSION) {
    return fail("UnsupportedVersion", `version is ${describe(version)}; this build reads version ${CHECKPOINT_VERSION}`)
  }
  // The digest is checked before the schema, so an edited field is reported as what it is — the
  // manifest no longer matches its digest — whatever the edit did to the field's value.
  const { digest } = candidate as { digest?: unknown }
  if (typeof digest !== "string") return fail("MissingDigest", "the manifest carries no digest of its content")
  const actual = manifestDigest(candidate)
  if (digest !== actual) {
    return fail("DigestMismatch", `the content's digest is ${actual}; the manifest says ${describe(digest)}`)
  }
  const decoded = validate(candidate, { errors: "all", onExcessProperty: "error" })
  return Result.isSuccess(decoded) ? Result.succeed(decoded.success) : fail("Invalid", decoded.failure.message)
}

/** Parses and validates manifest bytes. Nothing in the file is executed or trusted unchecked. */
export const decodeManifest = (bytes: Uint8Array, source: string): Effect.Effect<Manifest, ManifestError> =>
  Effect.suspend(() => {
    const fail = (reason: ManifestProblem, detail: string) => Effect.fail(new ManifestError({ source, reason, detail }))
    if (bytes.length > MAX_MANIFEST_BYTES) {
      return fail("TooLarge", `the manifest has ${bytes.length} bytes; the limit is ${MAX_MANIFEST_BYTES}`)
    }
    let text: string
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
    } catch {
      return fail("NotUtf8", "the manifest is not valid UTF-8")
    }
    const depth = jsonDepth(text)
    if (depth > MAX_MANIFEST_DEPTH) {
      return fail("TooDeep", `the manifest nests ${depth} levels; the limit is ${MAX_MANIFEST_DEPTH}`)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      return fail("NotJson", `the manifest is not JSON (${error instanceof Error ? error.message : String(error)})`)
    }
    return Effect.fromResult(checkManifest(parsed, source))
  })

/**
 * Seals a manifest built in memory with its digest, validates it (config and state must be JSON
 * values) and renders it. Validating on the way out guarantees that every manifest written can be
 * read back.
 */
export const encodeManifest = (content: unknown, source: string): Effect.Effect<Uint8Array, ManifestError> =>
  Effect.suspend(() =>
    Effect.fromResult(checkManifest(isObject(content) ? sealManifest(content as ManifestContent) : content, source))
      .pipe(
        Effect.map((valid) => new TextEncoder().encode(`${JSON.stringify(valid, null, 2)}\n`))
      )
  )
