/**
 * The one way a checkpoint is published, over any `CheckpointDisk`. A checkpoint directory only
 * ever appears by renaming a fully written and fsynced temporary directory, with manifest.json
 * written last, so a reader never sees half a checkpoint.
 */
import { Effect } from "effect"
import * as NodePath from "node:path"
import type { CheckpointIoError } from "./errors.ts"
import { replacedDirName, tempDirName } from "./layout.ts"
import {
  type ComponentFile,
  type ComponentName,
  MANIFEST_FILE,
  type ManifestContent,
  sealManifest
} from "./manifest.ts"
import { encodeSnapshotManifest, type PreparedSave } from "./prepareSnapshot.ts"
import { randomId, stepLocation, type StoreContext } from "./storeContext.ts"
import type { CheckpointRef, SaveError } from "./storeTypes.ts"

/** Moves the finished temporary directory into place, replacing an existing checkpoint. */
const moveIntoPlace = (
  context: StoreContext,
  step: number,
  temp: string,
  id: string
): Effect.Effect<void, CheckpointIoError> =>
  Effect.gen(function*() {
    const { disk, root } = context
    const target = stepLocation(context, step)
    if ((yield* disk.stat(target)) === undefined) return yield* disk.rename(temp, target)
    // The old checkpoint steps aside under a name `cleanTemp` restores if we stop right here.
    const displaced = NodePath.join(root, replacedDirName(step, id))
    yield* disk.rename(target, displaced)
    yield* disk.rename(temp, target).pipe(
      Effect.tapError(() => Effect.ignore(disk.rename(displaced, target)))
    )
    yield* disk.removeDirectory(displaced)
  }).pipe(Effect.uninterruptible)

/** The manifest of a save whose tensor files were written with the given sha256 hashes (in order). */
export const manifestContentFor = (prepared: PreparedSave, hashes: ReadonlyArray<string>): ManifestContent => {
  const components: Partial<Record<ComponentName, ComponentFile>> = {}
  prepared.files.forEach(({ component, bytes }, i) => {
    components[component] = { ...prepared.manifest.components[component], bytes: bytes.length, sha256: hashes[i]! }
  })
  return { ...prepared.manifest, components: components as ManifestContent["components"] }
}

/** Writes the tensor files, then the manifest sealed with their sizes and hashes, then publishes. */
export const publishCheckpoint = (
  context: StoreContext,
  prepared: PreparedSave
): Effect.Effect<CheckpointRef, SaveError> =>
  Effect.gen(function*() {
    const { disk, root } = context
    const id = randomId()
    const temp = NodePath.join(root, tempDirName(prepared.step, id))
    const manifest = yield* Effect.gen(function*() {
      const hashes = yield* disk.writeFilesDurable(
        temp,
        prepared.files.map(({ file, bytes }) => ({ name: file, bytes }))
      )
      const content = manifestContentFor(prepared, hashes)
      yield* disk.writeFilesDurable(temp, [{ name: MANIFEST_FILE, bytes: yield* encodeSnapshotManifest(content) }])
      yield* moveIntoPlace(context, prepared.step, temp, id)
      return sealManifest(content)
    }).pipe(Effect.onError(() => Effect.ignore(disk.removeDirectory(temp))))
    return { step: prepared.step, location: stepLocation(context, prepared.step), manifest } satisfies CheckpointRef
  })
