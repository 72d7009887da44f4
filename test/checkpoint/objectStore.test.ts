/**
 * The checkpoint store over a real S3-compatible server (s3rver on loopback): saves, listing,
 * loading, verification, retention and the cleanup of uploads that never committed, all through
 * the AWS SDK against the server. Damage is done as it would happen: by re-uploading an object.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { afterAll, beforeAll } from "vitest"
import { makeObjectStoreCheckpointStore } from "../../src/checkpoint/CheckpointStore.ts"
import { MAX_ATTEMPTS } from "../../src/checkpoint/objectDisk.ts"
import type { Tensor } from "../../src/tensor/tensor.ts"
import { type ObjectServer, startObjectServer } from "../support/objectServer.ts"
import { bitsOf, randomTensor, snapshotAt } from "./fixtures.ts"

const BUCKET = "checkpoints"
let server: ObjectServer
let client: S3Client
let prefixes = 0

beforeAll(async () => {
  server = await startObjectServer([BUCKET])
  client = new S3Client({ endpoint: server.endpoint, forcePathStyle: true, region: "us-east-1" })
})

afterAll(async () => {
  client.destroy()
  await server.stop()
})

/** A location no other test uses. */
const freshLocation = () => `s3://${BUCKET}/runs/r${++prefixes}`

const keysUnder = async (prefix: string): Promise<Array<string>> => {
  const out = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }))
  return (out.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)).sort()
}

const getObject = async (key: string): Promise<Uint8Array> => {
  const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
  return out.Body!.transformToByteArray()
}

const putObject = (key: string, body: Uint8Array) =>
  client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }))

const prefixOf = (location: string) => location.slice(`s3://${BUCKET}/`.length)

const sameBits = (actual: Record<string, Tensor>, expected: Record<string, Tensor>) => {
  assert.deepStrictEqual(Object.keys(actual).sort(), Object.keys(expected).sort())
  for (const name of Object.keys(expected)) {
    assert.deepStrictEqual(actual[name].shape, expected[name].shape, name)
    assert.deepStrictEqual([...bitsOf(actual[name].data as Float32Array)], [
      ...bitsOf(expected[name].data as Float32Array)
    ], name)
  }
}

const open = (location: string) => makeObjectStoreCheckpointStore(location)

describe("CheckpointStore in an S3-compatible bucket", () => {
  it.effect("each tensor upload carries S3's own SHA-256 checksum: the manifest's sha256, base64", () =>
    Effect.scoped(Effect.gen(function*() {
      const location = freshLocation()
      const store = yield* open(location)
      const sent = new Map<string, string | undefined>()
      server.watchRequests((request) => {
        if (request.method === "PUT") {
          const checksum = request.headers["x-amz-checksum-sha256"]
          sent.set(decodeURIComponent(request.url!.split("?")[0]!), Array.isArray(checksum) ? checksum[0] : checksum)
        }
        return "pass"
      })
      const ref = yield* store.save(snapshotAt(4))
      server.watchRequests(() => "pass")
      for (const component of ["model", "optimizer"] as const) {
        const file = ref.manifest.components[component]
        const key = `/${BUCKET}/${prefixOf(location)}/step-00000004/${file.file}`
        assert.strictEqual(sent.get(key), Buffer.from(file.sha256, "hex").toString("base64"), key)
      }
    })))

  it.effect("saves step-N/{tensors, manifest} objects and loads them back bit for bit", () =>
    Effect.scoped(Effect.gen(function*() {
      const location = freshLocation()
      const store = yield* open(location)
      const ref = yield* store.save(snapshotAt(4))
      assert.strictEqual(ref.location, `${location}/step-00000004`)
      const keys = yield* Effect.promise(() => keysUnder(prefixOf(location)))
      assert.deepStrictEqual(keys, [
        "step-00000004/manifest.json",
        "step-00000004/model.safetensors",
        "step-00000004/optimizer.safetensors"
      ])
      yield* store.saveAsync(snapshotAt(8))
      const pending = yield* store.awaitPending
      assert.strictEqual(Option.getOrThrow(pending).step, 8)

      // A second store (a resumed run) finds and loads them.
      const again = yield* open(location)
      assert.deepStrictEqual((yield* again.list).map((l) => [l.step, l.hasManifest]), [[8, true], [4, true]])
      const loaded = yield* again.load(4)
      sameBits(loaded.tensors.model, snapshotAt(4).tensors.model)
      sameBits(loaded.tensors.optimizer, snapshotAt(4).tensors.optimizer)
      assert.deepStrictEqual(loaded.manifest.state, ref.manifest.state)
      const report = yield* again.verify(8)
      assert.deepStrictEqual(report.problems, [])
      assert.strictEqual(Option.getOrThrow((yield* again.latestValid).latest).step, 8)
    })))

  it.effect("a re-uploaded tensor file with one byte changed fails verification by name and is skipped", () =>
    Effect.scoped(Effect.gen(function*() {
      const location = freshLocation()
      const store = yield* open(location)
      yield* store.save(snapshotAt(4))
      yield* store.save(snapshotAt(8))
      const key = `${prefixOf(location)}/step-00000008/optimizer.safetensors`
      const bytes = yield* Effect.promise(() => getObject(key))
      bytes[bytes.length - 3] ^= 0x01
      yield* Effect.promise(() => putObject(key, bytes))

      const report = yield* store.verify(8)
      assert.deepStrictEqual(report.problems.map((p) => [p.file, p.reason]), [[
        "optimizer.safetensors",
        "HashMismatch"
      ]])
      const latest = yield* store.latestValid
      assert.strictEqual(Option.getOrThrow(latest.latest).step, 4)
      assert.deepStrictEqual(latest.skipped.map((s) => s.step), [8])
      const error = yield* Effect.flip(store.load(8))
      assert.strictEqual(error._tag, "CheckpointCorrupt")
    })))

  it.effect("retention deletes whole checkpoints and keeps the newest valid ones", () =>
    Effect.scoped(Effect.gen(function*() {
      const location = freshLocation()
      const store = yield* open(location)
      for (const step of [4, 8, 12, 16]) yield* store.save(snapshotAt(step))
      const report = yield* store.retain({ keepLatest: 2 })
      assert.deepStrictEqual(report.deleted, [8, 4])
      const keys = yield* Effect.promise(() => keysUnder(prefixOf(location)))
      assert.deepStrictEqual([...new Set(keys.map((k) => k.split("/")[0]))], ["step-00000012", "step-00000016"])
      assert.deepStrictEqual((yield* store.list).map((l) => l.step), [16, 12])
      yield* store.delete(16)
      assert.deepStrictEqual((yield* store.list).map((l) => l.step), [12])
      assert.strictEqual((yield* Effect.flip(store.delete(16)))._tag, "CheckpointNotFound")
    })))

  it.effect("an upload that never committed is no checkpoint and is removed when a store opens", () =>
    Effect.scoped(Effect.gen(function*() {
      const location = freshLocation()
      const store = yield* open(location)
      yield* store.save(snapshotAt(4))
      const model = yield* Effect.promise(() => getObject(`${prefixOf(location)}/step-00000004/model.safetensors`))
      // A writer that died after its tensor uploads, before the manifest.
      yield* Effect.promise(() => putObject(`${prefixOf(location)}/step-00000008/model.safetensors`, model))
      assert.deepStrictEqual((yield* store.list).map((l) => l.step), [4])
      assert.strictEqual((yield* Effect.flip(store.manifest(8)))._tag, "CheckpointNotFound")

      const reopened = yield* open(location)
      const cleaned = yield* reopened.cleanTemp
      assert.deepStrictEqual(cleaned.removed, [])
      const keys = yield* Effect.promise(() => keysUnder(prefixOf(location)))
      assert.isFalse(keys.some((k) => k.startsWith("step-00000008/")), keys.join(", "))
      assert.strictEqual(Option.getOrThrow((yield* reopened.latestValid).latest).step, 4)
    })))

  it.effect("a tensor file larger than one part goes up in parts and loads back bit for bit", () =>
    Effect.scoped(Effect.gen(function*() {
      const location = freshLocation()
      const store = yield* open(location)
      // 2.5M floats: 10 MB, above the 8 MiB part size, so the upload is multipart.
      const big = randomTensor([2500, 1000], 5, 1)
      const snapshot = snapshotAt(4)
      yield* store.save({ ...snapshot, tensors: { ...snapshot.tensors, model: { ...snapshot.tensors.model, big } } })
      const loaded = yield* store.load(4, { components: ["model"] })
      sameBits(loaded.tensors.model, { ...snapshot.tensors.model, big })
      assert.isAbove(loaded.manifest.components.model.bytes, 8 * 1024 * 1024)
    })))

  it.effect("a save while the server is down fails with an I/O error; committed checkpoints stay whole", () =>
    Effect.scoped(Effect.gen(function*() {
      const location = freshLocation()
      const store = yield* open(location)
      yield* store.save(snapshotAt(4))
      yield* Effect.promise(() => server.pause())
      const failed = yield* Effect.flip(store.save(snapshotAt(8))).pipe(
        Effect.ensuring(Effect.promise(() => server.resume()))
      )
      assert.strictEqual(failed._tag, "CheckpointIoError")
      assert.include(failed.message, `${location}/step-00000008`)
      const reopened = yield* open(location)
      assert.deepStrictEqual((yield* reopened.list).map((l) => l.step), [4])
      assert.deepStrictEqual((yield* reopened.verify(4)).problems, [])
    })))

  it.effect("a connection cut mid-upload is retried: the save commits and loads back bit for bit", () =>
    Effect.scoped(Effect.gen(function*() {
      const location = freshLocation()
      const store = yield* open(location)
      let cut = 0
      server.watchRequests((request) =>
        request.method === "PUT" && request.url!.includes("/step-00000004/model.safetensors") &&
          cut++ < MAX_ATTEMPTS - 1
          ? "drop"
          : "pass"
      )
      yield* store.save(snapshotAt(4)).pipe(Effect.ensuring(Effect.sync(() => server.watchRequests(() => "pass"))))
      assert.strictEqual(cut, MAX_ATTEMPTS, "every attempt but the last was cut")
      const loaded = yield* (yield* open(location)).load(4)
      sameBits(loaded.tensors.model, snapshotAt(4).tensors.model)
    })))

  it.effect("a connection cut on every attempt fails the save naming the object; nothing committed is lost", () =>
    Effect.scoped(Effect.gen(function*() {
      const location = freshLocation()
      const store = yield* open(location)
      yield* store.save(snapshotAt(4))
      let cut = 0
      server.watchRequests((request) =>
        request.method === "PUT" && request.url!.includes("/step-00000008/model.safetensors") ? (cut++, "drop") : "pass"
      )
      const failed = yield* Effect.flip(store.save(snapshotAt(8))).pipe(
        Effect.ensuring(Effect.sync(() => server.watchRequests(() => "pass")))
      )
      assert.strictEqual(cut, MAX_ATTEMPTS)
      assert.strictEqual(failed._tag, "CheckpointIoError")
      assert.include(failed.message, `${location}/step-00000008/model.safetensors`)
      const keys = yield* Effect.promise(() => keysUnder(prefixOf(location)))
      assert.isFalse(keys.some((k) => k.startsWith("step-00000008/")), keys.join(", "))
      assert.deepStrictEqual((yield* store.list).map((l) => l.step), [4])
      assert.deepStrictEqual((yield* store.verify(4)).problems, [])
    })))

  it.effect("a missing bucket is refused when the store opens", () =>
    Effect.scoped(Effect.gen(function*() {
      const error = yield* Effect.flip(open("s3://no-such-bucket/run"))
      assert.strictEqual(error._tag, "CheckpointStoreUnavailable")
      assert.include(error.message, "no-such-bucket")
      assert.notInclude(error.message, "\n")
    })))
})
