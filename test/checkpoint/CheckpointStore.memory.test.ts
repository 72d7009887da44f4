import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as fc from "fast-check"
import * as NodePath from "node:path"
import { CheckpointStore } from "../../src/checkpoint/CheckpointStore.ts"
import { type CheckpointDisk, makeMemoryDisk, type MemoryDisk } from "../../src/checkpoint/disk.ts"
import { CheckpointIoError } from "../../src/checkpoint/errors.ts"
import { planRetention } from "../../src/checkpoint/retention.ts"
import { bitsOf, snapshotAt } from "./fixtures.ts"

const RUN = "/runs/r1"
const ROOT = `${RUN}/checkpoints`

const withStore = <A, E>(disk: CheckpointDisk, body: (store: CheckpointStore["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    return yield* body(yield* CheckpointStore)
  }).pipe(Effect.provide(CheckpointStore.layerDisk(disk, RUN)))

const label = (path: string) => NodePath.basename(path).replace(/-[0-9a-f]{12}$/, "-<id>")

/** A disk that logs every mutating operation, in order. */
const recording = (disk: CheckpointDisk, log: Array<string>): CheckpointDisk => {
  const note = (entry: string) => Effect.sync(() => void log.push(entry))
  return {
    ...disk,
    writeFilesDurable: (dir, files) =>
      Effect.andThen(
        note(`write ${label(dir)}/{${files.map((f) => f.name).join(",")}}, fsync`),
        disk.writeFilesDurable(dir, files)
      ),
    rename: (from, to) => Effect.andThen(note(`rename ${label(from)} → ${label(to)}`), disk.rename(from, to)),
    removeDirectory: (dir) => Effect.andThen(note(`remove ${label(dir)}`), disk.removeDirectory(dir))
  }
}

const failing = (operation: string) => new CheckpointIoError({ operation, path: "(test)", detail: "simulated failure" })

const stepDirs = (disk: MemoryDisk) =>
  [...disk.directories].filter((d) => NodePath.dirname(d) === ROOT).map((d) => NodePath.basename(d)).sort()

describe("CheckpointStore protocol", () => {
  it.effect("writes and fsyncs the tensor files, then the manifest, then renames into place", () =>
    Effect.gen(function*() {
      const disk = makeMemoryDisk()
      const log: Array<string> = []
      yield* withStore(recording(disk, log), (store) => store.save(snapshotAt(300)))
      assert.deepStrictEqual(log, [
        "write .tmp-step-300-<id>/{model.safetensors,optimizer.safetensors}, fsync",
        "write .tmp-step-300-<id>/{manifest.json}, fsync",
        "rename .tmp-step-300-<id> → step-00000300"
      ])

      log.length = 0
      yield* withStore(recording(disk, log), (store) => store.save(snapshotAt(300, 5)))
      assert.deepStrictEqual(log.slice(2), [
        "rename step-00000300 → .replaced-step-00000300-<id>",
        "rename .tmp-step-300-<id> → step-00000300",
        "remove .replaced-step-00000300-<id>"
      ])
      assert.deepStrictEqual(stepDirs(disk), ["step-00000300"])
    }))

  it.effect("a save that fails before publishing leaves no checkpoint and no temporary directory", () =>
    Effect.gen(function*() {
      const disk = makeMemoryDisk()
      const broken: CheckpointDisk = {
        ...disk,
        writeFilesDurable: (dir, files) =>
          files.some((f) => f.name === "manifest.json")
            ? Effect.fail(failing("write"))
            : disk.writeFilesDurable(dir, files)
      }
      const error = yield* Effect.flip(withStore(broken, (store) => store.save(snapshotAt(1))))
      assert.strictEqual(error._tag, "CheckpointIoError")
      assert.deepStrictEqual(stepDirs(disk), [])
    }))

  it.effect("a save cut off without cleanup leaves a temporary directory that is ignored, then cleaned", () =>
    Effect.gen(function*() {
      const disk = makeMemoryDisk()
      yield* withStore(disk, (store) => store.save(snapshotAt(1)))
      const crashing: CheckpointDisk = {
        ...disk,
        rename: () => Effect.fail(failing("rename")),
        removeDirectory: () => Effect.fail(failing("remove"))
      }
      yield* Effect.flip(withStore(crashing, (store) => store.save(snapshotAt(2))))
      assert.deepStrictEqual(stepDirs(disk).map((d) => d.replace(/-[0-9a-f]{12}$/, "")), [
        ".tmp-step-2",
        "step-00000001"
      ])
      // The next store start removes it.
      const latest = yield* withStore(disk, (store) => store.latestValid)
      assert.strictEqual(Option.getOrThrow(latest.latest).step, 1)
      assert.deepStrictEqual(stepDirs(disk), ["step-00000001"])
    }))

  it.effect("a replacing save that fails at the last rename puts the old checkpoint back", () =>
    Effect.gen(function*() {
      const disk = makeMemoryDisk()
      yield* withStore(disk, (store) => store.save(snapshotAt(4, 1)))
      const flaky: CheckpointDisk = {
        ...disk,
        rename: (from, to) =>
          NodePath.basename(from).startsWith(".tmp-") ? Effect.fail(failing("rename")) : disk.rename(from, to)
      }
      yield* Effect.flip(withStore(flaky, (store) => store.save(snapshotAt(4, 2))))
      const loaded = yield* withStore(disk, (store) => store.load(4))
      const expected = snapshotAt(4, 1).tensors.model["norm.weight"].data as Float32Array
      assert.deepStrictEqual([...bitsOf(loaded.tensors.model["norm.weight"].data as Float32Array)], [
        ...bitsOf(expected)
      ])
      assert.deepStrictEqual(stepDirs(disk), ["step-00000004"])
    }))
})

describe("CheckpointStore.layerMemory", () => {
  it.effect("saves, lists, loads and deletes", () =>
    Effect.gen(function*() {
      const store = yield* CheckpointStore
      yield* store.save(snapshotAt(1))
      yield* store.saveAsync(snapshotAt(2))
      yield* store.awaitPending
      assert.deepStrictEqual((yield* store.list).map((l) => l.step), [2, 1])
      const loaded = yield* store.load(2, { components: ["optimizer"] })
      assert.deepStrictEqual(loaded.tensors.optimizer["exp_avg.norm.weight"].shape, [4])
      assert.deepStrictEqual((yield* store.manifest(1)).manifest.state, snapshotAt(1).state)
      yield* store.delete(2)
      assert.strictEqual(Option.getOrThrow((yield* store.latestValid).latest).step, 1)
    }).pipe(Effect.provide(CheckpointStore.layerMemory)))
})

describe("CheckpointStore retention", () => {
  it("agrees with the retention plan on random checkpoint sets with random damage (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 7 }),
        fc.func(fc.boolean()),
        fc.integer({ min: 0, max: 3 }),
        fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 2 }),
        (steps, damaged, keepLatest, keepEvery, protect) =>
          Effect.runPromise(Effect.gen(function*() {
            const disk = makeMemoryDisk()
            const options = { keepLatest, keepEvery, protect }
            yield* withStore(disk, (store) => Effect.forEach(steps, (step) => store.save(snapshotAt(step))))
            const isValid = (step: number) => !damaged(step)
            for (const step of steps) {
              if (isValid(step)) continue
              const path = `${ROOT}/step-${String(step).padStart(8, "0")}/model.safetensors`
              const bytes = disk.files.get(path)!
              bytes[bytes.length - 1] ^= 1
            }
            const before = yield* withStore(disk, (store) => store.latestValid)
            const report = yield* withStore(disk, (store) => store.retain(options))
            const after = yield* withStore(disk, (store) => store.latestValid)

            const expected = planRetention(steps.map((step) => ({ step, valid: isValid(step) })), options)
            assert.deepStrictEqual(report, { kept: expected.keep, deleted: expected.remove })
            assert.deepStrictEqual(
              stepDirs(disk),
              [...expected.keep].sort((a, b) => a - b).map((s) => `step-${String(s).padStart(8, "0")}`)
            )
            assert.deepStrictEqual(Option.map(after.latest, (l) => l.step), Option.map(before.latest, (l) => l.step))
          }))
      ),
      { numRuns: 30 }
    )
  })
})
