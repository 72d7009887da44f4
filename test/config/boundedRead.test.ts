import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Result } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { readBoundedFile } from "../../src/config/boundedRead.ts"
import { jsonDepth, parseJson } from "../../src/config/jsonText.ts"

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), "continuum-bounded-"))

layer(NodeFileSystem.layer)("readBoundedFile", (it) => {
  const refusal = (file: string, limit: number) => Effect.flip(readBoundedFile(file, limit))

  it.effect("reads a regular file up to the limit, and through a symbolic link", () =>
    Effect.gen(function*() {
      const d = dir()
      fs.writeFileSync(path.join(d, "ten"), "0123456789")
      fs.symlinkSync(path.join(d, "ten"), path.join(d, "link"))
      assert.strictEqual(new TextDecoder().decode(yield* readBoundedFile(path.join(d, "ten"), 10)), "0123456789")
      assert.strictEqual((yield* readBoundedFile(path.join(d, "link"), 10)).length, 10)
      fs.writeFileSync(path.join(d, "empty"), "")
      assert.strictEqual((yield* readBoundedFile(path.join(d, "empty"), 0)).length, 0)
      // Larger than the first buffer: the read grows it.
      fs.writeFileSync(path.join(d, "big"), Buffer.alloc(100_000, 7))
      assert.strictEqual((yield* readBoundedFile(path.join(d, "big"), 100_000)).length, 100_000)
    }))

  it.effect("refuses a file one byte over the limit", () =>
    Effect.gen(function*() {
      const d = dir()
      fs.writeFileSync(path.join(d, "ten"), "0123456789")
      const error = yield* refusal(path.join(d, "ten"), 9)
      assert.strictEqual(error.cause, "refused")
      assert.strictEqual(error.reason, "is 10 bytes, more than the 9 bytes allowed")
    }))

  it.effect("refuses devices (also behind a link), FIFOs and directories without reading them", () =>
    Effect.gen(function*() {
      const d = dir()
      fs.symlinkSync("/dev/zero", path.join(d, "x.safetensors"))
      const fifo = path.join(d, "fifo")
      assert.strictEqual(spawnSync("mkfifo", [fifo]).status, 0)
      assert.strictEqual((yield* refusal("/dev/zero", 1 << 20)).reason, "is a device, not a regular file")
      assert.strictEqual(
        (yield* refusal(path.join(d, "x.safetensors"), 1 << 20)).sentence,
        `${d}/x.safetensors is a device, not a regular file`
      )
      assert.strictEqual((yield* refusal(fifo, 1 << 20)).reason, "is a FIFO, not a regular file")
      assert.strictEqual((yield* refusal(d, 1 << 20)).reason, "is a directory, not a regular file")
      const missing = yield* refusal(path.join(d, "nothing"), 10)
      assert.strictEqual(missing.cause, "missing")
      assert.match(missing.phrase, /^cannot read: /)
    }))
})

describe("parseJson", () => {
  it("refuses nesting past the limit before parsing, counting only brackets outside strings", () => {
    assert.strictEqual(jsonDepth(`{"a": [1, {"b": "[[[{{{"}], "c": "\\"]["}`), 3)
    assert.deepStrictEqual(Result.getOrThrow(parseJson(`{"a": {"b": [1]}}`)), { a: { b: [1] } })
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`
    assert.deepStrictEqual(parseJson(deep), Result.fail("nested 100000 levels deep, more than the 64 allowed"))
    assert.isTrue(Result.isSuccess(parseJson(`${"[".repeat(64)}${"]".repeat(64)}`)))
    assert.isTrue(Result.isFailure(parseJson(`${"[".repeat(65)}${"]".repeat(65)}`)))
    assert.match(Result.getOrThrowWith(Result.flip(parseJson("{nope")), () => new Error("parsed")), /^not valid JSON: /)
  })
})
