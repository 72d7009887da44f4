/**
 * The three places a checkpoint's bytes can go — memory, the file system, and the file system
 * through the writer thread — run the same publish protocol, so they produce the same files.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import * as NodeFs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import { makeCheckpointStore } from "../../src/checkpoint/CheckpointStore.ts"
import { type CheckpointDisk, fileSystemDisk, makeMemoryDisk } from "../../src/checkpoint/disk.ts"
import { makeWriterThreadDisk } from "../../src/checkpoint/writerThreadDisk.ts"
import { snapshotAt } from "./fixtures.ts"

const STEP_DIR = "checkpoints/step-00000012"

/** Saves step 12 twice (the second replaces the first) and returns the step directory's files. */
const publishOn = (disk: CheckpointDisk, runDir: string) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* makeCheckpointStore(disk, runDir)
    yield* store.save(snapshotAt(12, 1))
    yield* store.save(snapshotAt(12))
    const names = ["manifest.json", "model.safetensors", "optimizer.safetensors"]
    const files: Record<string, Uint8Array> = {}
    for (const name of names) files[name] = yield* disk.readFile(NodePath.join(runDir, STEP_DIR, name))
    const listed = yield* disk.listDirectories(NodePath.join(runDir, "checkpoints"))
    return { files, listed }
  }))

const tempRun = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-disk-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

describe("checkpoint disks", () => {
  it.effect("memory, file system and writer thread publish identical files", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const memory = yield* publishOn(makeMemoryDisk(), "/memory/run")
      const plain = yield* publishOn(fileSystemDisk(fs), yield* tempRun)
      const threaded = yield* publishOn(yield* makeWriterThreadDisk(fs), yield* tempRun)
      for (const other of [plain, threaded]) {
        assert.deepStrictEqual(other.listed, ["step-00000012"])
        for (const name of Object.keys(memory.files)) {
          assert.deepStrictEqual(other.files[name], memory.files[name], name)
        }
      }
      assert.deepStrictEqual(memory.listed, ["step-00000012"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("the writer thread reports a failed write as a typed error and leaves no directory behind", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const runDir = yield* tempRun
      // A file where the checkpoints directory should be: nothing can be created under it.
      NodeFs.writeFileSync(NodePath.join(runDir, "checkpoints"), "not a directory")
      const disk = yield* makeWriterThreadDisk(fs)
      const error = yield* Effect.flip(
        disk.writeFilesDurable(NodePath.join(runDir, "checkpoints", "x"), [{ name: "a", bytes: new Uint8Array(1) }])
      )
      assert.strictEqual(error._tag, "CheckpointIoError")
      assert.strictEqual(error.operation, "writeFilesDurable")
      assert.strictEqual(NodeFs.readFileSync(NodePath.join(runDir, "checkpoints"), "utf8"), "not a directory")
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
