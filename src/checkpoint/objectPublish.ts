/**
 * Publishing to an object store, which cannot rename: the tensor files are uploaded first to
 * their final keys, then manifest.json — sealed with their sizes and sha256 — is written LAST, and
 * that write is the commit. Readers list a step only once its manifest exists and verify every
 * file against it, so a save cut off at any point leaves either no checkpoint or the whole one.
 *
 * The manifest PUT carries `If-None-Match: *`: where the server honours it, two writers can never
 * both commit the same step (the second is refused with 412). Servers that ignore it (s3rver,
 * older MinIO) let the later manifest win; the run lock in the run directory is what keeps a
 * second writer away from the same location in the first place.
 */
import { Effect } from "effect"
import { CheckpointNotFound } from "./errors.ts"
import { joinLocation, parseStepDirName, stepDirName } from "./layout.ts"
import { MANIFEST_FILE, sealManifest } from "./manifest.ts"
import type { ObjectDisk } from "./objectDisk.ts"
import { encodeSnapshotManifest } from "./prepareSnapshot.ts"
import { manifestContentFor } from "./publish.ts"
import { sha256Hex } from "./sha256.ts"
import { stepLocation, type StoreContext } from "./storeContext.ts"
import type { CheckpointRef } from "./storeTypes.ts"
import type { CheckpointWriter } from "./writer.ts"

/** Deletes a step's manifest first — from then on it is no checkpoint — then its other objects. */
const removeObjects = (context: StoreContext<ObjectDisk>, step: number) =>
  Effect.gen(function*() {
    const { disk } = context
    const location = stepLocation(context, step)
    yield* disk.remove(joinLocation(location, MANIFEST_FILE))
    for (const key of yield* disk.listAll(location)) yield* disk.remove(joinLocation(location, key))
  })

export const objectWriter = (context: StoreContext<ObjectDisk>): CheckpointWriter => {
  const { disk } = context

  const publish: CheckpointWriter["publish"] = (prepared) =>
    Effect.gen(function*() {
      const location = stepLocation(context, prepared.step)
      // Replacing a step: un-commit the old one first, so no reader pairs its manifest with new files.
      if ((yield* disk.stat(location)) !== undefined) yield* disk.remove(joinLocation(location, MANIFEST_FILE))
      const hashes: Array<string> = []
      for (const { file, bytes } of prepared.files) {
        yield* disk.put(joinLocation(location, file), bytes)
        hashes.push(sha256Hex(bytes))
      }
      const content = manifestContentFor(prepared, hashes)
      const manifestBytes = yield* encodeSnapshotManifest(content)
      yield* disk.put(joinLocation(location, MANIFEST_FILE), manifestBytes, { onlyIfAbsent: true })
      return { step: prepared.step, location, manifest: sealManifest(content) } satisfies CheckpointRef
    }).pipe(
      // What a failed save uploaded is no checkpoint; remove it now, or cleanTemp will at next start.
      Effect.onError(() => Effect.ignore(removeObjects(context, prepared.step))),
      Effect.uninterruptible
    )

  const remove: CheckpointWriter["remove"] = (step) =>
    Effect.gen(function*() {
      context.written.delete(step)
      const location = stepLocation(context, step)
      const info = yield* disk.stat(location)
      if (info === undefined || info.kind !== "Directory") return yield* new CheckpointNotFound({ step, location })
      yield* removeObjects(context, step)
    })

  /**
   * Removes uploads that never committed: objects under a `step-…` prefix without manifest.json.
   * The store runs this when it opens, under the run's lock, so no save of this run is in flight.
   */
  const cleanTemp: CheckpointWriter["cleanTemp"] = Effect.gen(function*() {
    const keys = yield* disk.listAll(context.root)
    const byStep = new Map<string, Array<string>>()
    for (const key of keys) {
      const [dir, ...rest] = key.split("/")
      if (rest.length === 0 || dir === undefined) continue
      byStep.set(dir, [...(byStep.get(dir) ?? []), rest.join("/")])
    }
    const removed: Array<string> = []
    for (const [dir, files] of byStep) {
      const step = parseStepDirName(dir)
      if (step === undefined || files.includes(MANIFEST_FILE)) continue
      for (const file of files) yield* disk.remove(joinLocation(joinLocation(context.root, dir), file))
      removed.push(stepDirName(step))
    }
    return { removed, restored: [] }
  })

  return { publish, remove, cleanTemp }
}
