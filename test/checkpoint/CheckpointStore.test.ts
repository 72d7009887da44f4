import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { createHash } from "node:crypto"
import * as NodeFs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import { CheckpointStore } from "../../src/checkpoint/CheckpointStore.ts"
import type { CheckpointCorrupt, CorruptionReason } from "../../src/checkpoint/errors.ts"
import { sealManifest } from "../../src/checkpoint/manifest.ts"
import type { Tensor } from "../../src/tensor/tensor.ts"
import { bitsOf, snapshotAt } from "./fixtures.ts"

type Store = CheckpointStore["Service"]

/** A fresh run directory under the OS temp dir, removed when the test's scope closes. */
const runDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-ckpt-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

/** Runs `body` against a store layer built (and torn down) just for it, as a run would. */
const withStore = <A, E>(dir: string, body: (store: Store) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    return yield* body(yield* CheckpointStore)
  }).pipe(Effect.provide(CheckpointStore.layerFileSystem(dir).pipe(Layer.provide(NodeFileSystem.layer))))

const ckptDir = (dir: string, step: number) =>
  NodePath.join(dir, "checkpoints", `step-${String(step).padStart(8, "0")}`)

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

const assertSameTensors = (actual: Record<string, Tensor>, expected: Record<string, Tensor>) => {
  assert.deepStrictEqual(Object.keys(actual).sort(), Object.keys(expected).sort())
  for (const name of Object.keys(expected)) {
    assert.deepStrictEqual(actual[name].shape, expected[name].shape, name)
    assert.deepStrictEqual([...bitsOf(actual[name].data as Float32Array)], [
      ...bitsOf(expected[name].data as Float32Array)
    ], name)
  }
}

const expectCorrupt = (
  effect: Effect.Effect<unknown, { readonly _tag: string }>,
  file: string,
  reason: CorruptionReason
) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(effect)
    assert.strictEqual(error._tag, "CheckpointCorrupt", String(error))
    const corrupt = error as CheckpointCorrupt
    assert.strictEqual(corrupt.file, file, corrupt.message)
    assert.strictEqual(corrupt.reason, reason, corrupt.message)
    assert.include(corrupt.message, file)
    return corrupt
  })

describe("CheckpointStore on the file system", () => {
  it.effect("saves the documented layout and loads it back bit for bit", () =>
    Effect.gen(function*() {
      const dir = yield* runDir
      const snapshot = snapshotAt(300)
      const saved = yield* withStore(dir, (store) => store.save(snapshot))
      const location = ckptDir(dir, 300)
      assert.strictEqual(saved.location, location)
      assert.deepStrictEqual(NodeFs.readdirSync(NodePath.join(dir, "checkpoints")), ["step-00000300"])
      assert.deepStrictEqual(NodeFs.readdirSync(location).sort(), [
        "manifest.json",
        "model.safetensors",
        "optimizer.safetensors"
      ])

      const manifest = JSON.parse(NodeFs.readFileSync(NodePath.join(location, "manifest.json"), "utf8"))
      assert.strictEqual(manifest.format, "continuum-checkpoint")
      assert.strictEqual(manifest.version, 1)
      assert.strictEqual(manifest.step, 300)
      assert.strictEqual(manifest.runId, "run-test")
      assert.deepStrictEqual(manifest.config, snapshot.config)
      assert.deepStrictEqual(manifest.state, snapshot.state)
      assert.deepStrictEqual(manifest.components.model.tensors["tok_embeddings.weight"], [16, 4])
      for (const component of ["model", "optimizer"] as const) {
        const bytes = NodeFs.readFileSync(NodePath.join(location, manifest.components[component].file))
        assert.strictEqual(manifest.components[component].bytes, bytes.length)
        assert.strictEqual(manifest.components[component].sha256, sha256(bytes))
      }

      const loaded = yield* withStore(dir, (store) => store.load(300))
      assertSameTensors(loaded.tensors.model, snapshot.tensors.model)
      assertSameTensors(loaded.tensors.optimizer, snapshot.tensors.optimizer)
      assert.deepStrictEqual(loaded.manifest, manifest)
    }))

  it.effect("loads only the requested components and verifies only those", () =>
    Effect.gen(function*() {
      const dir = yield* runDir
      yield* withStore(dir, (store) => store.save(snapshotAt(10)))
      NodeFs.rmSync(NodePath.join(ckptDir(dir, 10), "optimizer.safetensors"))
      const loaded = yield* withStore(dir, (store) => store.load(10, { components: ["model"] }))
      assert.deepStrictEqual(Object.keys(loaded.tensors), ["model"])
      yield* expectCorrupt(withStore(dir, (store) => store.load(10)), "optimizer.safetensors", "MissingFile")
    }))

  it.effect("lists step directories newest first and finds the latest valid one", () =>
    Effect.gen(function*() {
      const dir = yield* runDir
      yield* withStore(dir, (store) => Effect.forEach([100, 300, 200], (step) => store.save(snapshotAt(step))))
      const listing = yield* withStore(dir, (store) => store.list)
      assert.deepStrictEqual(listing.map((l) => l.step), [300, 200, 100])
      const latest = yield* withStore(dir, (store) => store.latestValid)
      assert.strictEqual(Option.getOrThrow(latest.latest).step, 300)
      assert.deepStrictEqual(latest.skipped, [])
    }))

  it.effect("ignores leftover temporary directories and removes them when the store starts", () =>
    Effect.gen(function*() {
      const dir = yield* runDir
      yield* withStore(dir, (store) => store.save(snapshotAt(100)))
      // A complete-looking save that never got renamed into place.
      const leftover = NodePath.join(dir, "checkpoints", ".tmp-step-200-abc123")
      // Made while the store is open (start-up cleaning has run), to see what list ignores.
      const seen = yield* withStore(
        dir,
        (store) =>
          Effect.andThen(
            Effect.sync(() => NodeFs.cpSync(ckptDir(dir, 100), leftover, { recursive: true })),
            store.latestValid
          )
      )
      assert.strictEqual(Option.getOrThrow(seen.latest).step, 100)
      assert.deepStrictEqual(seen.skipped, [])
      const listed = yield* withStore(dir, (store) => store.list)
      assert.deepStrictEqual(listed.map((l) => l.step), [100])
      assert.isFalse(NodeFs.existsSync(leftover), "the store removed the temporary directory at start")

      const cleaned = yield* withStore(
        dir,
        (store) =>
          Effect.andThen(
            Effect.sync(() => NodeFs.cpSync(ckptDir(dir, 100), leftover, { recursive: true })),
            store.cleanTemp
          )
      )
      assert.deepStrictEqual(cleaned, { removed: [".tmp-step-200-abc123"], restored: [] })
      assert.isFalse(NodeFs.existsSync(leftover))
      const latest = yield* withStore(dir, (store) => store.latestValid)
      assert.strictEqual(Option.getOrThrow(latest.latest).step, 100)
    }))

  it.effect("a step directory without manifest.json is not a checkpoint", () =>
    Effect.gen(function*() {
      const dir = yield* runDir
      yield* withStore(dir, (store) => Effect.andThen(store.save(snapshotAt(100)), store.save(snapshotAt(200))))
      NodeFs.rmSync(NodePath.join(ckptDir(dir, 200), "manifest.json"))
      const listing = yield* withStore(dir, (store) => store.list)
      assert.deepStrictEqual(listing.map((l) => [l.step, l.hasManifest]), [[200, false], [100, true]])
      const latest = yield* withStore(dir, (store) => store.latestValid)
      assert.strictEqual(Option.getOrThrow(latest.latest).step, 100)
      assert.deepStrictEqual(latest.skipped.map((r) => [r.step, r.problems[0].file, r.problems[0].reason]), [[
        200,
        "manifest.json",
        "MissingFile"
      ]])
      yield* expectCorrupt(withStore(dir, (store) => store.load(200)), "manifest.json", "MissingFile")
    }))

  describe("corruption", () => {
    const damages = {
      flip: (path: string) => {
        const bytes = NodeFs.readFileSync(path)
        // The first byte breaks the manifest's JSON; the last one is tensor data.
        const at = path.endsWith(".json") ? 0 : bytes.length - 1
        bytes[at] ^= 0xff
        NodeFs.writeFileSync(path, bytes)
      },
      truncate: (path: string) => NodeFs.truncateSync(path, Math.floor(NodeFs.statSync(path).size / 2)),
      delete: (path: string) => NodeFs.rmSync(path)
    }
    const expected: Record<string, Record<keyof typeof damages, CorruptionReason>> = {
      "model.safetensors": { flip: "HashMismatch", truncate: "SizeMismatch", delete: "MissingFile" },
      "optimizer.safetensors": { flip: "HashMismatch", truncate: "SizeMismatch", delete: "MissingFile" },
      "manifest.json": { flip: "InvalidManifest", truncate: "InvalidManifest", delete: "MissingFile" }
    }

    for (const [file, reasons] of Object.entries(expected)) {
      for (const damage of Object.keys(damages) as Array<keyof typeof damages>) {
        it.effect(`${damage} ${file}: load fails naming it, latestValid skips and reports it`, () =>
          Effect.gen(function*() {
            const dir = yield* runDir
            yield* withStore(dir, (store) => Effect.andThen(store.save(snapshotAt(100)), store.save(snapshotAt(200))))
            damages[damage](NodePath.join(ckptDir(dir, 200), file))

            yield* expectCorrupt(withStore(dir, (store) => store.load(200)), file, reasons[damage])
            const report = yield* withStore(dir, (store) => store.verify(200))
            assert.deepStrictEqual(report.problems.map((p) => [p.file, p.reason]), [[file, reasons[damage]]])
            const latest = yield* withStore(dir, (store) => store.latestValid)
            assert.strictEqual(Option.getOrThrow(latest.latest).step, 100)
            assert.deepStrictEqual(latest.skipped.map((r) => r.step), [200])
            assert.strictEqual(latest.skipped[0].problems[0].file, file)
          }))
      }
    }

    it.effect("verify reports every damaged file", () =>
      Effect.gen(function*() {
        const dir = yield* runDir
        yield* withStore(dir, (store) => store.save(snapshotAt(5)))
        damages.flip(NodePath.join(ckptDir(dir, 5), "model.safetensors"))
        damages.delete(NodePath.join(ckptDir(dir, 5), "optimizer.safetensors"))
        const report = yield* withStore(dir, (store) => store.verify(5))
        assert.deepStrictEqual(report.problems.map((p) => [p.file, p.reason]), [
          ["model.safetensors", "HashMismatch"],
          ["optimizer.safetensors", "MissingFile"]
        ])
        assert.isTrue(Option.isSome(report.manifest))
      }))

    it.effect("a tensor file whose hash matches but whose tensors differ from the manifest is rejected", () =>
      Effect.gen(function*() {
        const dir = yield* runDir
        yield* withStore(dir, (store) => store.save(snapshotAt(7)))
        const location = ckptDir(dir, 7)
        const manifestPath = NodePath.join(location, "manifest.json")
        const manifest = JSON.parse(NodeFs.readFileSync(manifestPath, "utf8"))
        manifest.components.model.tensors["norm.weight"] = [2, 2]
        // Sealed again, as a writer that means harm would: the digest proves integrity, not intent.
        NodeFs.writeFileSync(manifestPath, JSON.stringify(sealManifest(manifest)))
        const error = yield* expectCorrupt(
          withStore(dir, (store) => store.load(7)),
          "model.safetensors",
          "TensorMismatch"
        )
        assert.include(error.detail, "norm.weight")
      }))
  })

  describe("hostile manifests", () => {
    const rewriteManifest = (dir: string, step: number, edit: (m: Record<string, any>) => void) => {
      const path = NodePath.join(ckptDir(dir, step), "manifest.json")
      const manifest = JSON.parse(NodeFs.readFileSync(path, "utf8"))
      edit(manifest)
      // Sealed again: a hostile manifest can carry a valid digest, so every check must still hold.
      NodeFs.writeFileSync(path, JSON.stringify(sealManifest(manifest)))
    }

    for (const file of ["../../../etc/passwd", "/etc/passwd", ".."]) {
      it.effect(`refuses the component file name ${file}`, () =>
        Effect.gen(function*() {
          const dir = yield* runDir
          yield* withStore(dir, (store) => store.save(snapshotAt(1)))
          rewriteManifest(dir, 1, (m) => {
            m.components.model.file = file
          })
          const error = yield* expectCorrupt(
            withStore(dir, (store) => store.load(1)),
            "manifest.json",
            "InvalidManifest"
          )
          assert.include(error.detail, JSON.stringify(file))
        }))
    }

    it.effect("refuses a wrong format or version and a manifest for another step", () =>
      Effect.gen(function*() {
        const dir = yield* runDir
        yield* withStore(dir, (store) => store.save(snapshotAt(1)))
        rewriteManifest(dir, 1, (m) => {
          m.version = 2
        })
        const version = yield* expectCorrupt(
          withStore(dir, (store) => store.load(1)),
          "manifest.json",
          "InvalidManifest"
        )
        assert.include(version.detail, "UnsupportedVersion")
        rewriteManifest(dir, 1, (m) => {
          m.version = 1
          m.format = "something-else"
        })
        const format = yield* expectCorrupt(
          withStore(dir, (store) => store.load(1)),
          "manifest.json",
          "InvalidManifest"
        )
        assert.include(format.detail, "WrongFormat")

        yield* withStore(dir, (store) => store.save(snapshotAt(2)))
        NodeFs.cpSync(ckptDir(dir, 2), ckptDir(dir, 3), { recursive: true })
        yield* expectCorrupt(withStore(dir, (store) => store.load(3)), "manifest.json", "StepMismatch")
      }))
  })

  it.effect("replaces an existing checkpoint of the same step", () =>
    Effect.gen(function*() {
      const dir = yield* runDir
      yield* withStore(dir, (store) => store.save(snapshotAt(50, 1)))
      yield* withStore(dir, (store) => store.save(snapshotAt(50, 2)))
      const loaded = yield* withStore(dir, (store) => store.load(50))
      assertSameTensors(loaded.tensors.model, snapshotAt(50, 2).tensors.model)
      assert.deepStrictEqual(NodeFs.readdirSync(NodePath.join(dir, "checkpoints")), ["step-00000050"])
    }))

  it.effect("puts back a checkpoint displaced by a replacing save that was cut off", () =>
    Effect.gen(function*() {
      const dir = yield* runDir
      yield* withStore(dir, (store) => Effect.andThen(store.save(snapshotAt(50)), store.save(snapshotAt(60))))
      const root = NodePath.join(dir, "checkpoints")
      NodeFs.renameSync(ckptDir(dir, 50), NodePath.join(root, ".replaced-step-00000050-abc"))
      NodeFs.cpSync(ckptDir(dir, 60), NodePath.join(root, ".replaced-step-00000060-def"), { recursive: true })
      const cleaned = yield* withStore(dir, (store) => store.list)
      assert.deepStrictEqual(cleaned.map((l) => l.step), [60, 50])
      assert.deepStrictEqual(NodeFs.readdirSync(root).sort(), ["step-00000050", "step-00000060"])
      yield* withStore(dir, (store) => store.load(50))
    }))

  it.effect("deletes a checkpoint and reports a missing one", () =>
    Effect.gen(function*() {
      const dir = yield* runDir
      yield* withStore(dir, (store) => Effect.andThen(store.save(snapshotAt(1)), store.save(snapshotAt(2))))
      yield* withStore(dir, (store) => store.delete(1))
      assert.deepStrictEqual(NodeFs.readdirSync(NodePath.join(dir, "checkpoints")), ["step-00000002"])
      const error = yield* Effect.flip(withStore(dir, (store) => store.delete(1)))
      assert.strictEqual(error._tag, "CheckpointNotFound")
      const missing = yield* Effect.flip(withStore(dir, (store) => store.load(1)))
      assert.strictEqual(missing._tag, "CheckpointNotFound")
    }))

  it.effect("retention keeps the latest valid, every n-th, the protected and anything newer than the newest valid", () =>
    Effect.gen(function*() {
      const dir = yield* runDir
      const steps = [100, 200, 300, 400, 500, 600]
      yield* withStore(dir, (store) => Effect.forEach(steps, (step) => store.save(snapshotAt(step))))
      NodeFs.rmSync(NodePath.join(ckptDir(dir, 600), "model.safetensors"))
      const report = yield* withStore(dir, (store) => store.retain({ keepLatest: 2, keepEvery: 300, protect: [100] }))
      assert.deepStrictEqual(report, { kept: [600, 500, 400, 300, 100], deleted: [200] })
      assert.isFalse(NodeFs.existsSync(ckptDir(dir, 200)))
      const again = yield* withStore(dir, (store) => store.retain({ keepLatest: 1 }))
      assert.deepStrictEqual(again, { kept: [600, 500], deleted: [400, 300, 100] })
    }))

  describe("background saves", () => {
    it.effect("write the same bytes as a synchronous save", () =>
      Effect.gen(function*() {
        const syncDir = yield* runDir
        const asyncDir = yield* runDir
        yield* withStore(syncDir, (store) => store.save(snapshotAt(42)))
        const saved = yield* withStore(asyncDir, (store) =>
          Effect.andThen(store.saveAsync(snapshotAt(42)), store.awaitPending))
        assert.strictEqual(Option.getOrThrow(saved).step, 42)
        for (const file of ["manifest.json", "model.safetensors", "optimizer.safetensors"]) {
          const a = NodeFs.readFileSync(NodePath.join(ckptDir(syncDir, 42), file))
          const b = NodeFs.readFileSync(NodePath.join(ckptDir(asyncDir, 42), file))
          assert.isTrue(a.equals(b), file)
        }
      }))

    it.effect("copy the tensors before returning, so the caller may keep training", () =>
      Effect.gen(function*() {
        const dir = yield* runDir
        const snapshot = snapshotAt(9)
        const original = snapshotAt(9)
        yield* withStore(dir, (store) =>
          Effect.gen(function*() {
            yield* store.saveAsync(snapshot)
            for (const tensor of Object.values(snapshot.tensors.model)) tensor.data.fill(123)
            for (const tensor of Object.values(snapshot.tensors.optimizer)) tensor.data.fill(-1)
            yield* store.awaitPending
          }))
        const loaded = yield* withStore(dir, (store) => store.load(9))
        assertSameTensors(loaded.tensors.model, original.tensors.model)
        assertSameTensors(loaded.tensors.optimizer, original.tensors.optimizer)
      }))

    it.effect("run one at a time, and the store's shutdown waits for the last one", () =>
      Effect.gen(function*() {
        const dir = yield* runDir
        yield* withStore(dir, (store) =>
          Effect.gen(function*() {
            yield* store.saveAsync(snapshotAt(1))
            yield* store.saveAsync(snapshotAt(2))
            yield* store.saveAsync(snapshotAt(3))
          }))
        // No awaitPending: closing the layer must not cut the last save off.
        const listing = yield* withStore(dir, (store) => store.latestValid)
        assert.strictEqual(Option.getOrThrow(listing.latest).step, 3)
        assert.deepStrictEqual(listing.skipped, [])
        assert.deepStrictEqual(NodeFs.readdirSync(NodePath.join(dir, "checkpoints")).sort(), [
          "step-00000001",
          "step-00000002",
          "step-00000003"
        ])
      }))

    it.effect("apply retention in the background once the save has published, when asked", () =>
      Effect.gen(function*() {
        const dir = yield* runDir
        yield* withStore(dir, (store) =>
          Effect.gen(function*() {
            for (const step of [1, 2, 3, 4]) {
              yield* store.saveAsync(snapshotAt(step), { retain: { keepLatest: 2, keepEvery: 0 } })
            }
            yield* store.awaitPending
          }))
        // The newest save is counted: the two latest remain, the save just published among them.
        assert.deepStrictEqual(NodeFs.readdirSync(NodePath.join(dir, "checkpoints")).sort(), [
          "step-00000003",
          "step-00000004"
        ])
      }))

    it.effect("report a failed background write on the next awaitPending, once", () =>
      Effect.gen(function*() {
        const dir = yield* runDir
        yield* withStore(dir, (store) =>
          Effect.gen(function*() {
            // A regular file where the checkpoints directory should be makes every write fail.
            NodeFs.writeFileSync(NodePath.join(dir, "checkpoints"), "in the way")
            yield* store.saveAsync(snapshotAt(1))
            const error = yield* Effect.flip(store.awaitPending)
            assert.strictEqual(error._tag, "CheckpointIoError")
            assert.isTrue(Option.isNone(yield* store.awaitPending))
            yield* store.saveAsync(snapshotAt(2))
            const next = yield* Effect.flip(store.saveAsync(snapshotAt(3)))
            assert.strictEqual(next._tag, "CheckpointIoError")
          }))
      }))

    it.effect("reject an invalid snapshot at once rather than in the background", () =>
      Effect.gen(function*() {
        const dir = yield* runDir
        const bad = { ...snapshotAt(1), state: { lr: Number.NaN } }
        const error = yield* Effect.flip(withStore(dir, (store) => store.saveAsync(bad)))
        assert.strictEqual(error._tag, "InvalidSnapshot")
        assert.include(error.message, `["state"]["lr"]`)
        const badName = snapshotAt(1)
        const tensors = {
          ...badName.tensors,
          model: { ...badName.tensors.model, "bad\nname": badName.tensors.model["norm.weight"] }
        }
        const nameError = yield* Effect.flip(withStore(dir, (store) => store.save({ ...badName, tensors })))
        assert.strictEqual(nameError._tag, "InvalidSnapshot")
        assert.include(nameError.message, "tensors.model")
        const stepError = yield* Effect.flip(withStore(dir, (store) => store.save({ ...snapshotAt(1), step: -3 })))
        assert.include(stepError.message, "-3")
        assert.isFalse(NodeFs.existsSync(NodePath.join(dir, "checkpoints")))
      }))
  })
})
