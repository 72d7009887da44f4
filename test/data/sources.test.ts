import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { spawnSync } from "node:child_process"
import { MemoryBudget } from "../../src/config/MemoryBudget.ts"
import {
  DataSourceEmpty,
  DataSourceInvalid,
  DataSourceNotFound,
  DataSourceUnreadable,
  VocabSizeMismatch
} from "../../src/data/errors.ts"
import { loadSource, sourceBytes } from "../../src/data/sources/loadSource.ts"
import { loadMobyDick } from "../../src/data/sources/mobyDick.ts"
import { listTextFiles } from "../../src/data/sources/textFiles.ts"
import { encodeLlmcTokens, encodeNanoGptTokens, LLMC_HEADER_BYTES } from "../../src/data/sources/tokenFile.ts"
import { checkVocabSize } from "../../src/data/vocab.ts"

const text = (bytes: ArrayLike<number>): string => new TextDecoder().decode(Uint8Array.from(bytes))
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** A fresh temporary directory, removed when the test's scope closes. */
const tempDir = FileSystem.FileSystem.use((fs) => fs.makeTempDirectoryScoped({ prefix: "continuum-data-" }))

layer(NodeFileSystem.layer)("data sources", (it) => {
  describe("moby-dick", () => {
    it.effect("is the embedded default: ≈1.2 MB of bytes from chapter 1 to the epilogue", () =>
      Effect.gen(function*() {
        const stream = yield* loadSource("moby-dick")
        assert.strictEqual(stream.format, "bytes")
        assert.strictEqual(stream.vocabSize, 256)
        assert.instanceOf(stream.tokens, Uint8Array)
        const n = stream.tokens.length
        assert.isTrue(n > 1_150_000 && n < 1_250_000, `${n} bytes`)
        const all = text(stream.tokens)
        assert.isTrue(all.startsWith("CHAPTER 1. Loomings.\n\nCall me Ishmael."), all.slice(0, 60))
        assert.include(all, "\nCHAPTER 2. The Carpet-Bag.\n\n")
        assert.include(all, "\nCHAPTER 135. The Chase.—Third Day.\n\n")
        assert.isTrue(all.trimEnd().endsWith("only found another orphan."), all.slice(-60))
        // Chapters appear in reading order.
        assert.isTrue(all.indexOf("CHAPTER 9. ") < all.indexOf("CHAPTER 10. "))
      }))

    it.effect("loads identically twice", () =>
      Effect.gen(function*() {
        const a = yield* loadMobyDick
        const b = yield* loadMobyDick
        assert.deepStrictEqual(a.tokens, b.tokens)
      }))
  })

  describe("text", () => {
    it.effect("reads one file as its raw UTF-8 bytes", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        const content = "naïve café — ∑\nsecond line"
        yield* fs.writeFile(`${dir}/corpus.dat`, utf8(content))
        const stream = yield* loadSource(`${dir}/corpus.dat`)
        assert.strictEqual(stream.format, "bytes")
        assert.strictEqual(stream.origin, `${dir}/corpus.dat`)
        assert.deepStrictEqual(Array.from(stream.tokens), Array.from(utf8(content)))
        assert.isTrue(stream.tokens.length > content.length) // multi-byte characters are several tokens
      }))

    it.effect("reads a directory recursively in name order, .txt/.md only, skipping hidden entries", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        yield* fs.makeDirectory(`${dir}/b/inner`, { recursive: true })
        yield* fs.makeDirectory(`${dir}/.git`)
        yield* fs.writeFileString(`${dir}/c.md`, "C")
        yield* fs.writeFileString(`${dir}/a.txt`, "A")
        yield* fs.writeFileString(`${dir}/b/inner/z.TXT`, "Z")
        yield* fs.writeFileString(`${dir}/b/y.txt`, "Y")
        yield* fs.writeFileString(`${dir}/b/data.json`, "{}")
        yield* fs.writeFileString(`${dir}/.hidden.txt`, "H")
        yield* fs.writeFileString(`${dir}/.git/HEAD.txt`, "G")
        yield* fs.writeFileString(`${dir}/empty.txt`, "")
        const files = yield* listTextFiles(dir)
        assert.deepStrictEqual(files.map((f) => f.slice(dir.length + 1)), [
          "a.txt",
          "b/inner/z.TXT",
          "b/y.txt",
          "c.md",
          "empty.txt"
        ])
        const stream = yield* loadSource(dir)
        assert.strictEqual(text(stream.tokens), "A\n\nZ\n\nY\n\nC")
      }))

    it.effect("fails with DataSourceEmpty for a directory without text", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        yield* fs.writeFileString(`${dir}/notes.json`, "{}")
        const error = yield* Effect.flip(loadSource(dir))
        assert.instanceOf(error, DataSourceEmpty)
        assert.strictEqual((error as DataSourceEmpty).path, dir)
      }))

    it.effect("fails with DataSourceNotFound naming a missing path", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        for (const path of [`${dir}/nope.txt`, `${dir}/nope.bin`, `${dir}/missing/dir`]) {
          const error = yield* Effect.flip(loadSource(path))
          assert.instanceOf(error, DataSourceNotFound)
          assert.strictEqual(error._tag, "DataSourceNotFound")
          assert.strictEqual((error as DataSourceNotFound).path, path)
          assert.include(error.message, path)
        }
      }))
  })

  describe("token files", () => {
    const tokens = [0, 1, 50256, 65535, 7, 300, 12]

    it.effect("round-trip nanoGPT raw uint16", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        yield* fs.writeFile(`${dir}/train.bin`, encodeNanoGptTokens(tokens))
        const stream = yield* loadSource(`${dir}/train.bin`)
        assert.strictEqual(stream.format, "nanogpt-uint16")
        assert.instanceOf(stream.tokens, Uint16Array)
        assert.deepStrictEqual(Array.from(stream.tokens), tokens)
        assert.strictEqual(stream.vocabSize, 65536)
      }))

    it.effect("round-trip llm.c (magic-detected header)", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        const bytes = encodeLlmcTokens(tokens.slice(0, 3))
        assert.strictEqual(bytes.length, LLMC_HEADER_BYTES + 6)
        yield* fs.writeFile(`${dir}/val.bin`, bytes)
        const stream = yield* loadSource(`${dir}/val.bin`)
        assert.strictEqual(stream.format, "llmc-uint16")
        assert.deepStrictEqual(Array.from(stream.tokens), tokens.slice(0, 3))
        assert.strictEqual(stream.vocabSize, 50257)
      }))

    it.effect("reject malformed files with DataSourceInvalid", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        const wrongVersion = encodeLlmcTokens([1, 2])
        new DataView(wrongVersion.buffer).setInt32(4, 2, true)
        const wrongCount = encodeLlmcTokens([1, 2])
        new DataView(wrongCount.buffer).setInt32(8, 5, true)
        const cases: Array<[string, Uint8Array, string]> = [
          ["odd.bin", new Uint8Array([1, 2, 3]), "odd length"],
          ["version.bin", wrongVersion, "version 2"],
          ["count.bin", wrongCount, "declares 5 tokens"],
          ["short.bin", encodeLlmcTokens([]).subarray(0, 100), "shorter than its 1024-byte header"]
        ]
        for (const [name, bytes, expected] of cases) {
          yield* fs.writeFile(`${dir}/${name}`, bytes)
          const error = yield* Effect.flip(loadSource(`${dir}/${name}`))
          assert.instanceOf(error, DataSourceInvalid, name)
          assert.strictEqual((error as DataSourceInvalid).path, `${dir}/${name}`)
          assert.include(error.message, expected)
        }
        yield* fs.writeFile(`${dir}/empty.bin`, new Uint8Array(0))
        assert.instanceOf(yield* Effect.flip(loadSource(`${dir}/empty.bin`)), DataSourceEmpty)
      }))

    it.effect("are checked against the model's vocabulary", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        yield* fs.writeFile(`${dir}/small.bin`, encodeNanoGptTokens([3, 999, 4]))
        const stream = yield* loadSource(`${dir}/small.bin`)
        yield* checkVocabSize(stream, 1000)
        const error = yield* Effect.flip(checkVocabSize(stream, 999))
        assert.instanceOf(error, VocabSizeMismatch)
        assert.deepStrictEqual([error.maxTokenId, error.vocabSize, error.source], [999, 999, `${dir}/small.bin`])
        assert.include(error.message, "model.vocabSize = 999")
        const bytes = yield* loadSource("moby-dick")
        assert.instanceOf(yield* Effect.flip(checkVocabSize(bytes, 128)), VocabSizeMismatch)
        yield* checkVocabSize(bytes, 256)
      }))
  })
})

layer(NodeFileSystem.layer)("data sources are read within bounds", (it) => {
  it.effect("a device, a FIFO or a file over the memory budget is refused, and nothing is read", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const unreadable = (source: string) =>
        Effect.map(Effect.flip(loadSource(source)), (error) => {
          assert.instanceOf(error, DataSourceUnreadable)
          return error.message
        })
      assert.strictEqual(
        yield* unreadable("/dev/zero"),
        "data.source: cannot read /dev/zero: it is a device, not a regular file"
      )
      assert.strictEqual(spawnSync("mkfifo", [`${dir}/fifo.bin`]).status, 0)
      assert.include(yield* unreadable(`${dir}/fifo.bin`), "it is a FIFO, not a regular file")
      assert.include(
        yield* Effect.map(Effect.flip(sourceBytes(`${dir}/fifo.bin`)), (e) => e.message),
        "it is a FIFO, not a regular file or a directory"
      )

      yield* fs.writeFile(`${dir}/corpus.txt`, new Uint8Array(4096).fill(97))
      const budget = (bytes: number) => Effect.provideService(MemoryBudget, { bytes, origin: "flag" })
      assert.strictEqual((yield* loadSource(`${dir}/corpus.txt`).pipe(budget(4096))).tokens.length, 4096)
      assert.include(
        yield* unreadable(`${dir}/corpus.txt`).pipe(budget(4095)),
        "it is 4096 bytes (4.0 KiB), more than the 4095 bytes (4.0 KiB) allowed"
      )
    }))

  it.effect("a directory's text files count against one limit together; its size is their sum", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      yield* fs.writeFile(`${dir}/a.txt`, new Uint8Array(3000).fill(97))
      yield* fs.writeFile(`${dir}/b.txt`, new Uint8Array(3000).fill(98))
      yield* fs.writeFile(`${dir}/skip.bin`, new Uint8Array(9000))
      assert.strictEqual(yield* sourceBytes(dir), 6000)
      const budget = (bytes: number) => Effect.provideService(MemoryBudget, { bytes, origin: "flag" })
      assert.strictEqual((yield* loadSource(dir).pipe(budget(6000))).tokens.length, 6002)
      const error = yield* Effect.flip(loadSource(dir).pipe(budget(5999)))
      assert.instanceOf(error, DataSourceUnreadable)
      assert.strictEqual(
        error.message,
        `data.source: cannot read ${dir}: its text files hold more than 5999 bytes in all`
      )
    }))
})
