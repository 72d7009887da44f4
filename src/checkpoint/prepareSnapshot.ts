/**
 * Turning a snapshot into bytes and a validated manifest. Everything that can be wrong with a
 * snapshot is found here, before anything is written, and from here on the caller's arrays are
 * no longer read — so a save can finish in the background while training changes them.
 */
import { Clock, Effect, Result } from "effect"
import type { Tensor } from "../tensor/tensor.ts"
import { InvalidSnapshot } from "./errors.ts"
import { componentFileName } from "./layout.ts"
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type ComponentName,
  componentNames,
  encodeManifest,
  type Manifest,
  type ManifestContent
} from "./manifest.ts"
import { encodeSafetensors } from "./safetensors.ts"
import type { CheckpointSnapshot } from "./storeTypes.ts"

/** A snapshot turned into bytes and a validated manifest, ready to be hashed and written. */
export interface PreparedSave {
  readonly step: number
  readonly files: ReadonlyArray<
    { readonly component: ComponentName; readonly file: string; readonly bytes: Uint8Array }
  >
  /** The manifest with placeholder sizes and hashes, filled in (and sealed) when written. */
  readonly manifest: ManifestContent
}

const PLACEHOLDER_SHA256 = "0".repeat(64)

const invalid = (field: string, detail: string) => new InvalidSnapshot({ field, detail })

/** Seals a manifest's content with its digest and encodes it as manifest.json's bytes. */
export const encodeSnapshotManifest = (manifest: unknown): Effect.Effect<Uint8Array, InvalidSnapshot> =>
  encodeManifest(manifest, "manifest").pipe(Effect.mapError((e) => invalid("manifest", `${e.reason}: ${e.detail}`)))

const shapesOf = (tensors: Readonly<Record<string, Tensor>>): Record<string, ReadonlyArray<number>> =>
  Object.fromEntries(Object.keys(tensors).sort().map((name) => [name, [...tensors[name].shape]]))

const isStep = (step: number): boolean => Number.isSafeInteger(step) && step >= 0

/** Validates and encodes a snapshot. */
export const prepareSnapshot = (snapshot: CheckpointSnapshot): Effect.Effect<PreparedSave, InvalidSnapshot> =>
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
    const text = yield* encodeSnapshotManifest(candidate)
    const { digest: _, ...manifest } = JSON.parse(new TextDecoder().decode(text)) as Manifest
    return { step: snapshot.step, files, manifest } satisfies PreparedSave
  })
