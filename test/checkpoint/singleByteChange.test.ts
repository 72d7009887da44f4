/**
 * The integrity law of a checkpoint: any single-byte change to any of its files is either
 * detected by verification, naming that file, or provably harmless — the checkpoint then loads
 * to exactly the same manifest and tensors. Checked on a real checkpoint written to disk.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Layer, Option } from "effect"
import * as fc from "fast-check"
import * as NodeFs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import { CheckpointStore, type LoadedCheckpoint, makeCheckpointStore } from "../../src/checkpoint/CheckpointStore.ts"
import { fileSystemDisk } from "../../src/checkpoint/disk.ts"
import { bitsOf, snapshotAt } from "./fixtures.ts"

const STEP = 25
const FILES = ["manifest.json", "model.safetensors", "optimizer.safetensors"] as const
const stepDir = (runDir: string) => NodePath.join(runDir, "checkpoints", `step-${String(STEP).padStart(8, "0")}`)

/** Verifies and, when that passes, loads the checkpoint of `runDir` with a read-only store. */
const inspect = (runDir: string) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* makeCheckpointStore(fileSystemDisk(yield* FileSystem.FileSystem), runDir, {
      cleanOnStart: false
    })
    const report = yield* store.verify(STEP)
    const loaded = report.problems.length === 0 ? Option.some(yield* store.load(STEP)) : Option.none()
    return { problems: report.problems, loaded }
  })).pipe(Effect.provide(NodeFileSystem.layer))

/** The decoded checkpoint as comparable plain data: manifest, and every tensor's shape and bits. */
const decoded = (checkpoint: LoadedCheckpoint) => ({
  manifest: checkpoint.manifest,
  tensors: Object.fromEntries(
    Object.entries(checkpoint.tensors).map(([component, tensors]) => [
      component,
      Object.fromEntries(
        Object.entries(tensors).map((
          [name, t]
        ) => [name, { shape: t.shape, bits: [...bitsOf(t.data as Float32Array)] }])
      )
    ])
  )
})

describe("a single-byte change to a checkpoint", () => {
  const original = NodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-bytes-"))
  afterAll(() => NodeFs.rmSync(original, { recursive: true, force: true }))
  const written = Effect.runPromise(
    Effect.gen(function*() {
      const store = yield* CheckpointStore
      yield* store.save(snapshotAt(STEP))
    }).pipe(Effect.provide(CheckpointStore.layerFileSystem(original).pipe(Layer.provide(NodeFileSystem.layer))))
  )

  /** A copy of the original run directory with one byte of `file` replaced. */
  const damagedCopy = (file: string, offset: number, value: number) => {
    const copy = NodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-bytes-"))
    NodeFs.cpSync(NodePath.join(original, "checkpoints"), NodePath.join(copy, "checkpoints"), { recursive: true })
    const path = NodePath.join(stepDir(copy), file)
    const bytes = NodeFs.readFileSync(path)
    const at = offset % bytes.length
    const changed = bytes[at] === value ? (value + 1) % 256 : value
    bytes[at] = changed
    NodeFs.writeFileSync(path, bytes)
    return copy
  }

  it("is detected naming that file, or loads to exactly the same checkpoint (property)", async () => {
    await written
    const reference = await Effect.runPromise(inspect(original))
    assert.deepStrictEqual(reference.problems, [])
    const expected = decoded(Option.getOrThrow(reference.loaded))
    let detected = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...FILES),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        async (file, offset, value) => {
          const copy = damagedCopy(file, offset, value)
          try {
            const { loaded, problems } = await Effect.runPromise(inspect(copy))
            if (problems.length > 0) {
              detected++
              assert.deepStrictEqual(problems.map((p) => p.file), [file])
            } else {
              assert.deepStrictEqual(decoded(Option.getOrThrow(loaded)), expected)
            }
          } finally {
            NodeFs.rmSync(copy, { recursive: true, force: true })
          }
        }
      ),
      { numRuns: 300 }
    )
    // Most random changes are detected; the rest (whitespace in the manifest) changed nothing.
    assert.isAbove(detected, 200)
  }, 120_000)

  it("detects an edited digit that keeps manifest.json valid JSON", async () => {
    await written
    for (
      const [from, to] of [[`"cursor": ${STEP * 16}`, `"cursor": ${STEP * 16 + 1}`], [
        `"step": ${STEP}`,
        `"step": ${STEP - 1}`
      ]]
    ) {
      const copy = NodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-bytes-"))
      try {
        NodeFs.cpSync(NodePath.join(original, "checkpoints"), NodePath.join(copy, "checkpoints"), { recursive: true })
        const path = NodePath.join(stepDir(copy), "manifest.json")
        const text = NodeFs.readFileSync(path, "utf8")
        assert.include(text, from)
        NodeFs.writeFileSync(path, text.replace(from, to))
        JSON.parse(NodeFs.readFileSync(path, "utf8"))
        const { problems } = await Effect.runPromise(inspect(copy))
        assert.deepStrictEqual(problems.map((p) => [p.file, p.reason]), [["manifest.json", "HashMismatch"]])
      } finally {
        NodeFs.rmSync(copy, { recursive: true, force: true })
      }
    }
  })
})
