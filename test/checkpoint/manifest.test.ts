import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  decodeManifest,
  encodeManifest,
  manifestDigest,
  type ManifestProblem,
  MAX_MANIFEST_DEPTH
} from "../../src/checkpoint/manifest.ts"

const sha = "a".repeat(64)

const validManifest = () => ({
  format: "continuum-checkpoint",
  version: 1,
  runId: "run-1",
  step: 300,
  time: "2025-03-01T12:00:00.000Z",
  parent: { runId: "run-0", step: 200, policy: "continue" },
  config: { steps: 600, model: { dim: 64 }, tags: ["a", null, true] },
  fingerprints: { trajectory: "t", dataset: "d", model: "m" },
  components: {
    model: {
      file: "model.safetensors",
      bytes: 1234,
      sha256: sha,
      tensors: { "norm.weight": [64], "output.weight": [256, 64] } as Record<string, Array<number>>
    },
    optimizer: { file: "optimizer.safetensors", bytes: 99, sha256: sha, tensors: {} as Record<string, Array<number>> }
  },
  state: { step: 300, data: { cursor: 4800 }, rng: { counters: [1, 2] } }
})

const textOf = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))

/**
 * A manifest's bytes, sealed with the digest of its content, as a writer would (hostile or not):
 * these tests check what is refused even when the digest matches.
 */
const bytesOf = (value: object): Uint8Array => textOf({ ...value, digest: manifestDigest(value) })

const expectRejected = (input: Uint8Array, reason: ManifestProblem, mentions: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(decodeManifest(input, "ckpt/manifest.json"))
    assert.strictEqual(error._tag, "ManifestError")
    assert.strictEqual(error.reason, reason, error.message)
    assert.strictEqual(error.source, "ckpt/manifest.json")
    for (const text of mentions) assert.include(error.message, text)
  })

describe("manifest", () => {
  it.effect("decodes a valid manifest and encodes it back to the same value", () =>
    Effect.gen(function*() {
      const manifest = yield* decodeManifest(bytesOf(validManifest()), "m")
      assert.deepStrictEqual<unknown>(manifest, { ...validManifest(), digest: manifestDigest(validManifest()) })
      const again = yield* decodeManifest(yield* encodeManifest(manifest, "m"), "m")
      assert.deepStrictEqual(again, manifest)
    }))

  it.effect("accepts a manifest without a parent", () =>
    Effect.gen(function*() {
      const { parent: _, ...orphan } = validManifest()
      const manifest = yield* decodeManifest(bytesOf(orphan), "m")
      assert.isUndefined(manifest.parent)
    }))

  it.effect("rejects file names that are paths or not plain base names", () =>
    Effect.gen(function*() {
      for (
        const file of ["../x", "/etc/passwd", "..", ".", "a/b", "a\\b", "", "x".repeat(65), "ü.safetensors", "a b"]
      ) {
        const manifest = validManifest()
        manifest.components.model.file = file
        yield* expectRejected(bytesOf(manifest), "Invalid", [`["components"]["model"]["file"]`, JSON.stringify(file)])
      }
    }))

  it.effect("rejects a component stored as manifest.json or two components in one file", () =>
    Effect.gen(function*() {
      const asManifest = validManifest()
      asManifest.components.optimizer.file = "manifest.json"
      yield* expectRejected(bytesOf(asManifest), "Invalid", ["manifest.json"])
      const shared = validManifest()
      shared.components.optimizer.file = "model.safetensors"
      yield* expectRejected(bytesOf(shared), "Invalid", ["already the file of component model"])
    }))

  it.effect("rejects a wrong format or version by name", () =>
    Effect.gen(function*() {
      yield* expectRejected(bytesOf({ ...validManifest(), format: "other-tool" }), "WrongFormat", ["\"other-tool\""])
      yield* expectRejected(bytesOf({ ...validManifest(), format: undefined }), "WrongFormat")
      yield* expectRejected(bytesOf({ ...validManifest(), version: 2 }), "UnsupportedVersion", ["version is 2"])
      yield* expectRejected(bytesOf({ ...validManifest(), version: "1" }), "UnsupportedVersion")
    }))

  it.effect("rejects invalid fields with their paths", () =>
    Effect.gen(function*() {
      yield* expectRejected(bytesOf({ ...validManifest(), step: -1 }), "Invalid", [`["step"]`])
      yield* expectRejected(bytesOf({ ...validManifest(), step: 2 ** 60 }), "Invalid", [`["step"]`])
      yield* expectRejected(bytesOf({ ...validManifest(), time: "yesterday" }), "Invalid", ["\"yesterday\""])
      yield* expectRejected(bytesOf({ ...validManifest(), runId: "" }), "Invalid", [`["runId"]`])
      yield* expectRejected(bytesOf({ ...validManifest(), extra: 1 }), "Invalid", ["extra"])
      yield* expectRejected(bytesOf({ ...validManifest(), state: [1] }), "Invalid", [`["state"]`])
      const badHash = validManifest()
      badHash.components.model.sha256 = "ABC"
      yield* expectRejected(bytesOf(badHash), "Invalid", ["\"ABC\""])
      const badName = validManifest()
      badName.components.model.tensors = { "bad\u0007name": [1] }
      yield* expectRejected(bytesOf(badName), "Invalid", ["U+0007"])
      const badShape = validManifest()
      badShape.components.model.tensors = { w: [-1] }
      yield* expectRejected(bytesOf(badShape), "Invalid", [`["w"]`])
      const { components: _, ...missing } = validManifest()
      yield* expectRejected(bytesOf(missing), "Invalid", [`["components"]`])
    }))

  it.effect("rejects bytes that are not UTF-8, not JSON, not an object or too large", () =>
    Effect.gen(function*() {
      yield* expectRejected(new Uint8Array([0x7b, 0xff, 0x7d]), "NotUtf8")
      yield* expectRejected(new TextEncoder().encode("{\"format\":"), "NotJson")
      yield* expectRejected(new TextEncoder().encode("[1]"), "NotAnObject")
      yield* expectRejected(new Uint8Array(16 * 1024 * 1024 + 1), "TooLarge")
    }))

  it.effect("refuses to encode configuration or state that is not JSON", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(encodeManifest({ ...validManifest(), config: { lr: Number.NaN } }, "m"))
      assert.strictEqual(error.reason, "Invalid")
      assert.include(error.message, `["config"]`)
      const stateError = yield* Effect.flip(encodeManifest({ ...validManifest(), state: { when: new Date(0) } }, "m"))
      assert.include(stateError.message, `["state"]["when"]`)
    }))
})

describe("manifest digest", () => {
  it.effect("is refused when missing, and names the manifest when its content was edited", () =>
    Effect.gen(function*() {
      yield* expectRejected(textOf(validManifest()), "MissingDigest")
      const sealed = { ...validManifest(), digest: manifestDigest(validManifest()) }
      yield* expectRejected(textOf({ ...sealed, state: { ...sealed.state, data: { cursor: 4801 } } }), "DigestMismatch")
      yield* expectRejected(textOf({ ...sealed, step: 299 }), "DigestMismatch")
      yield* expectRejected(textOf({ ...sealed, digest: `sha256:${"0".repeat(64)}` }), "DigestMismatch")
    }))

  it.effect("does not change when the same content is indented or its keys reordered", () =>
    Effect.gen(function*() {
      const { state, ...rest } = validManifest()
      const reordered = { state, ...rest }
      const text = JSON.stringify({ ...reordered, digest: manifestDigest(validManifest()) }, null, 4)
      const manifest = yield* decodeManifest(new TextEncoder().encode(text), "m")
      assert.strictEqual(manifest.digest, manifestDigest(validManifest()))
    }))

  it.effect("refuses nesting deeper than the limit before parsing", () =>
    Effect.gen(function*() {
      const deep = `{"config":${"[".repeat(100_000)}${"]".repeat(100_000)}}`
      yield* expectRejected(new TextEncoder().encode(deep), "TooDeep", [String(MAX_MANIFEST_DEPTH)])
    }))
})
