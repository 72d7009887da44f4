import { NodeFileSystem } from "@effect/platform-node"
import { Effect, FileSystem } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type CheckpointStoreShape, makeCheckpointStore } from "../../src/checkpoint/CheckpointStore.ts"
import { fileSystemDisk } from "../../src/checkpoint/disk.ts"
import { parseStepDirName } from "../../src/checkpoint/layout.ts"

/** Runs `f` on the checkpoint store of `runDir`, as a promise. */
export const withStore = <A>(runDir: string, f: (store: CheckpointStoreShape) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      // Opened read-only: the store must not clean up what the next process is meant to find.
      return yield* f(yield* makeCheckpointStore(fileSystemDisk(fs), runDir, { cleanOnStart: false }))
    })).pipe(Effect.provide(NodeFileSystem.layer))
  )

/**
 * What a checkpoints directory holds, read straight from the disk: the steps of complete step
 * directories (those with a manifest), ascending, and the names of leftover temporary ones.
 */
export const checkpointDirs = (
  dir: string
): { readonly complete: Array<number>; readonly temporary: Array<string> } => {
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : []
  const complete = names.flatMap((name) => {
    const step = parseStepDirName(name)
    return step !== undefined && fs.existsSync(path.join(dir, name, "manifest.json")) ? [step] : []
  }).sort((a, b) => a - b)
  return { complete, temporary: names.filter((name) => name.startsWith(".")) }
}
