/**
 * Writing a prepared save. A checkpoint directory only ever appears by renaming a fully written
 * and fsynced temporary directory, with manifest.json written last, so a reader never sees half
 * a checkpoint — whether the bytes go through the disk interface or the writer thread.
 */
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as NodePath from "node:path"
import type { BackgroundWriter } from "./backgroundWriter.ts"
import type { CheckpointIoError } from "./errors.ts"
import { replacedDirName, tempDirName } from "./layout.ts"
import { type ComponentName, type Manifest, MANIFEST_FILE } from "./manifest.ts"
import { encodeSnapshotManifest, type PreparedSave } from "./prepareSnapshot.ts"
import { randomId, sha256Hex, stepLocation, type StoreContext } from "./storeContext.ts"
import type { CheckpointRef, SaveError } from "./storeTypes.ts"

/** Moves the finished temporary directory into place, replacing an existing checkpoint. */
const publish = (
  context: StoreContext,
  prepared: PreparedSave,
  temp: string,
  id: string
): Effect.Effect<void, CheckpointIoError> =>
  Effect.gen(function*() {
    const { disk, root } = context
    const target = stepLocation(context, prepared.step)
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

/** Hashes and writes through the disk interface, then publishes. */
export const writeOnDisk = (context: StoreContext, prepared: PreparedSave): Effect.Effect<CheckpointRef, SaveError> =>
  Effect.gen(function*() {
    const { disk, root } = context
    yield* disk.makeDirectory(root)
    const id = randomId()
    const temp = NodePath.join(root, tempDirName(prepared.step, id))
    yield* disk.makeDirectory(temp)
    const manifest = yield* Effect.gen(function*() {
      const components: Record<string, Manifest["components"][ComponentName]> = {}
      for (const { component, file, bytes } of prepared.files) {
        components[component] = {
          ...prepared.manifest.components[component],
          bytes: bytes.length,
          sha256: sha256Hex(bytes)
        }
        yield* disk.writeFileDurable(NodePath.join(temp, file), bytes)
      }
      const manifest = { ...prepared.manifest, components: components as Manifest["components"] }
      const text = yield* encodeSnapshotManifest(manifest)
      yield* disk.writeFileDurable(NodePath.join(temp, MANIFEST_FILE), text)
      yield* disk.syncDirectory(temp)
      yield* publish(context, prepared, temp, id)
      return manifest
    }).pipe(Effect.onError(() => Effect.ignore(disk.removeDirectory(temp))))
    return { step: prepared.step, location: stepLocation(context, prepared.step), manifest } satisfies CheckpointRef
  })

/** The same save on the writer thread: everything from the first file to the parent fsync. */
export const writeInBackground = (
  context: StoreContext,
  writer: BackgroundWriter,
  prepared: PreparedSave
): Effect.Effect<CheckpointRef, SaveError> =>
  Effect.gen(function*() {
    const { root } = context
    const id = randomId()
    // The writer hashes the files; it swaps each placeholder in the manifest text for its hash.
    const placeholders = Object.fromEntries(prepared.files.map((f) => [f.component, randomBytes(32).toString("hex")]))
    const withPlaceholders = (hashes: Record<string, string>): Manifest => ({
      ...prepared.manifest,
      components: Object.fromEntries(prepared.files.map(({ component, bytes }) => [component, {
        ...prepared.manifest.components[component],
        bytes: bytes.length,
        sha256: hashes[component]!
      }])) as Manifest["components"]
    })
    const text = yield* encodeSnapshotManifest(withPlaceholders(placeholders))
    const hashes = yield* writer.write({
      root,
      temp: NodePath.join(root, tempDirName(prepared.step, id)),
      target: stepLocation(context, prepared.step),
      displaced: NodePath.join(root, replacedDirName(prepared.step, id)),
      files: prepared.files.map(({ component, file, bytes }) => ({
        component,
        name: file,
        bytes,
        placeholder: placeholders[component]!
      })),
      manifestName: MANIFEST_FILE,
      manifest: new TextDecoder().decode(text)
    })
    return {
      step: prepared.step,
      location: stepLocation(context, prepared.step),
      manifest: withPlaceholders(hashes)
    } satisfies CheckpointRef
  })
