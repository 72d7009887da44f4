import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { exportWeights } from "../../src/checkpoint/export.ts"
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensorsHeader,
  type SafetensorsError,
  type SafetensorsProblem
} from "../../src/checkpoint/safetensors.ts"
import type { Tensor } from "../../src/tensor/tensor.ts"
import { bitsOf, failureOf, getOrThrow, modelTensors, rawSafetensors } from "./fixtures.ts"

const decode = (bytes: Uint8Array) => decodeSafetensors(bytes, { file: "test.safetensors" })

const rejects = (
  bytes: Uint8Array,
  reason: SafetensorsProblem,
  mentions: ReadonlyArray<string> = []
): SafetensorsError => {
  const error = failureOf(decode(bytes))
  assert.strictEqual(error._tag, "SafetensorsError")
  assert.strictEqual(error.reason, reason, error.message)
  assert.strictEqual(error.file, "test.safetensors")
  for (const text of mentions) assert.include(error.message, text)
  return error
}

const f32Bytes = (values: ReadonlyArray<number>): Uint8Array => new Uint8Array(new Float32Array(values).buffer)

const entry = (dtype: string, shape: ReadonlyArray<number>, begin: number, end: number) => ({
  dtype,
  shape,
  data_offsets: [begin, end]
})

describe("safetensors layout", () => {
  it("writes the byte layout of the specification", () => {
    const bytes = getOrThrow(encodeSafetensors({ w: { shape: [2], data: new Float32Array([1, -2]) } }))
    const header = `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}` // 54 bytes, padded to 56
    const expected = [
      56,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...new TextEncoder().encode(header),
      0x20,
      0x20,
      0x00,
      0x00,
      0x80,
      0x3f, // 1.0f little-endian
      0x00,
      0x00,
      0x00,
      0xc0 //  -2.0f little-endian
    ]
    assert.deepStrictEqual([...bytes], expected)
  })

  it("sorts tensors by name, puts metadata first and aligns the data to 8 bytes", () => {
    const bytes = getOrThrow(encodeSafetensors(
      { zeta: { shape: [1], data: new Float32Array([3]) }, alpha: { shape: [2, 1], data: new Float32Array([1, 2]) } },
      { metadata: { format: "pt" } }
    ))
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true))
    assert.strictEqual(length % 8, 0)
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + length))
    assert.strictEqual(
      text.trimEnd(),
      `{"__metadata__":{"format":"pt"},"alpha":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"zeta":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`
    )
    assert.deepStrictEqual([...bytes.subarray(8 + length)], [...f32Bytes([1, 2, 3])])
  })

  it("writes F16 and BF16 data as 2-byte little-endian words", () => {
    const tensors = { x: { shape: [3], data: new Float32Array([1, -2, 0.5]) } }
    const f16 = getOrThrow(exportWeights(tensors, "f16"))
    assert.deepStrictEqual([...f16.subarray(f16.length - 6)], [0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38])
    const bf16 = getOrThrow(exportWeights(tensors, "bf16"))
    assert.deepStrictEqual([...bf16.subarray(bf16.length - 6)], [0x80, 0x3f, 0x00, 0xc0, 0x00, 0x3f])
    assert.deepStrictEqual(getOrThrow(readSafetensorsHeader(bf16, { file: "x" })).metadata, { format: "pt" })
  })
})

describe("safetensors round trips", () => {
  it("reproduces float32 tensors bit for bit, including NaN payloads, -0 and infinities", () => {
    const special = new Float32Array(6)
    bitsOf(special).set([0x7fc00001, 0xffa00000, 0x80000000, 0x7f800000, 0xff800000, 0x00000001])
    const tensors: Record<string, Tensor> = {
      ...modelTensors(7),
      special: { shape: [2, 3], data: special },
      empty: { shape: [0, 5], data: new Float32Array(0) },
      scalar: { shape: [], data: new Float32Array([42]) }
    }
    const decoded = getOrThrow(decode(getOrThrow(encodeSafetensors(tensors))))
    assert.deepStrictEqual(Object.keys(decoded.tensors).sort(), Object.keys(tensors).sort())
    for (const [name, tensor] of Object.entries(tensors)) {
      assert.deepStrictEqual(decoded.tensors[name].shape, tensor.shape)
      assert.deepStrictEqual([...bitsOf(decoded.tensors[name].data as Float32Array)], [
        ...bitsOf(tensor.data as Float32Array)
      ], name)
    }
  })

  it("round-trips random tensor sets (property)", () => {
    const tensorArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) =>
      fc.float32Array({ minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) })
        .map((data): Tensor => ({ shape, data }))
    )
    const nameArb = fc.string({ minLength: 1, maxLength: 20 }).filter((s) =>
      !/[\p{C}\p{Zl}\p{Zp}]/u.test(s) && s !== "__metadata__"
    )
    fc.assert(
      fc.property(fc.dictionary(nameArb, tensorArb, { maxKeys: 6 }), (tensors) => {
        const decoded = getOrThrow(decode(getOrThrow(encodeSafetensors(tensors))))
        assert.deepStrictEqual(Object.keys(decoded.tensors).sort(), Object.keys(tensors).sort())
        for (const name of Object.keys(tensors)) {
          assert.deepStrictEqual(decoded.tensors[name].shape, tensors[name].shape)
          assert.deepStrictEqual([...bitsOf(decoded.tensors[name].data as Float32Array)], [
            ...bitsOf(tensors[name].data as Float32Array)
          ])
        }
      }),
      { numRuns: 200 }
    )
  })

  it("rounds float64 data to float32 on the way in", () => {
    const decoded = getOrThrow(
      decode(getOrThrow(encodeSafetensors({ x: { shape: [2], data: new Float64Array([0.1, 1 / 3]) } })))
    )
    assert.deepStrictEqual([...decoded.tensors.x.data], [Math.fround(0.1), Math.fround(1 / 3)])
  })

  it("exports f16 and bf16 within their precision and decodes them back to f32", () => {
    const tensors = modelTensors(3)
    for (const [dtype, relative] of [["f16", 2 ** -11], ["bf16", 2 ** -8]] as const) {
      const bytes = getOrThrow(exportWeights(tensors, dtype))
      const decoded = getOrThrow(decode(bytes))
      assert.isTrue(decoded.header.entries.every((e) => e.dtype === dtype.toUpperCase()))
      for (const [name, tensor] of Object.entries(tensors)) {
        const back = decoded.tensors[name].data
        for (let i = 0; i < back.length; i++) {
          const x = tensor.data[i]
          // Relative error ≤ half an ulp for normal values; an absolute floor covers f16 subnormals.
          assert.isTrue(Math.abs(back[i] - x) <= Math.abs(x) * relative + 2 ** -25, `${name}[${i}]: ${x} → ${back[i]}`)
        }
      }
    }
  })

  it("reads foreign files with unaligned data offsets", () => {
    const header =
      `{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`
    const data = new Uint8Array([0x80, 0x3f, 0x00, 0xc0, ...f32Bytes([2.5])])
    const decoded = getOrThrow(decode(rawSafetensors(header, data)))
    assert.deepStrictEqual([...decoded.tensors.a.data], [1, -2])
    assert.deepStrictEqual([...decoded.tensors.b.data], [2.5])
  })

  it("decoded tensors do not alias the file bytes", () => {
    const bytes = getOrThrow(encodeSafetensors({ x: { shape: [1], data: new Float32Array([1]) } }))
    const decoded = getOrThrow(decode(bytes))
    bytes.fill(0xff, bytes.length - 4)
    assert.strictEqual(decoded.tensors.x.data[0], 1)
  })
})

describe("safetensors hostile inputs", () => {
  const valid = entry("F32", [2], 0, 8)
  const eight = f32Bytes([1, 2])

  it("rejects files too short for a header length", () => {
    rejects(new Uint8Array(5), "FileTooSmall", ["5 bytes"])
  })

  it("rejects a header length of 2^60 before reading anything", () => {
    rejects(rawSafetensors({}, new Uint8Array(0), 2n ** 60n), "HeaderTooLarge", ["1152921504606846976"])
    rejects(rawSafetensors({}, new Uint8Array(0), 2n ** 64n - 1n), "HeaderTooLarge")
  })

  it("rejects a header length beyond the file", () => {
    rejects(rawSafetensors({}, new Uint8Array(0), 1000n), "HeaderBeyondFile", ["1000"])
  })

  it("honours a custom header limit", () => {
    const bytes = rawSafetensors({ x: valid }, eight)
    const error = failureOf(decodeSafetensors(bytes, { file: "f", limits: { maxHeaderBytes: 16 } }))
    assert.strictEqual(error.reason, "HeaderTooLarge")
  })

  it("rejects a header that is not UTF-8, not JSON or not an object", () => {
    const bad = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x7b, 0x7d, 0x7d]) // {"\xff\xfe":{}}
    const bytes = new Uint8Array(8 + bad.length)
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bad.length), true)
    bytes.set(bad, 8)
    rejects(bytes, "HeaderNotUtf8")
    rejects(rawSafetensors("{not json"), "HeaderNotJson")
    rejects(rawSafetensors("[1,2]"), "HeaderNotObject", ["[1,2]"])
    rejects(rawSafetensors("null"), "HeaderNotObject")
  })

  it("rejects malformed metadata", () => {
    rejects(rawSafetensors({ __metadata__: { format: 1 } }), "InvalidMetadata", ["\"format\""])
    rejects(rawSafetensors({ __metadata__: ["x"] }), "InvalidMetadata")
  })

  it("rejects unknown dtypes", () => {
    rejects(rawSafetensors({ x: entry("F64", [1], 0, 8) }, new Uint8Array(8)), "UnknownDType", ["\"F64\"", "\"x\""])
    rejects(rawSafetensors({ x: entry("I8", [1], 0, 1) }, new Uint8Array(1)), "UnknownDType", ["\"I8\""])
  })

  it("rejects entries with missing or extra keys", () => {
    rejects(rawSafetensors({ x: { dtype: "F32", shape: [2] } }, eight), "InvalidEntry", ["\"x\""])
    rejects(rawSafetensors({ x: { ...valid, code: "rm -rf /" } }, eight), "InvalidEntry")
    rejects(rawSafetensors({ x: 5 }, eight), "InvalidEntry")
  })

  it("rejects shapes that are not non-negative safe integers", () => {
    for (const shape of [[-1], [1.5], ["2"], [2 ** 53], "2", null]) {
      rejects(rawSafetensors({ x: { dtype: "F32", shape, data_offsets: [0, 8] } }, eight), "InvalidShape", ["\"x\""])
    }
    rejects(rawSafetensors({ x: entry("F32", new Array(17).fill(1), 0, 4) }, new Uint8Array(4)), "InvalidShape")
  })

  it("rejects shapes whose size does not match the byte range, without allocating for the claim", () => {
    rejects(rawSafetensors({ x: entry("F32", [3], 0, 8) }, eight), "SizeMismatch", ["[3]", "12 bytes", "[0, 8]"])
    rejects(rawSafetensors({ x: entry("F32", [2 ** 26, 2 ** 26], 0, 8) }, eight), "SizeMismatch", [
      "more than 9007199254740991"
    ])
    rejects(rawSafetensors({ x: entry("F32", [2 ** 40, 2 ** 40, 2 ** 40], 0, 8) }, eight), "SizeMismatch")
    rejects(rawSafetensors({ x: entry("F16", [2], 0, 8) }, eight), "SizeMismatch")
  })

  it("rejects offsets that are malformed or out of range", () => {
    rejects(rawSafetensors({ x: entry("F32", [2], 8, 0) }, eight), "InvalidOffsets")
    rejects(rawSafetensors({ x: { dtype: "F32", shape: [2], data_offsets: [0, -8] } }, eight), "InvalidOffsets")
    rejects(rawSafetensors({ x: { dtype: "F32", shape: [2], data_offsets: [0] } }, eight), "InvalidOffsets")
    rejects(rawSafetensors({ x: entry("F32", [2 ** 30], 0, 2 ** 32) }, eight), "OffsetsOutOfRange", ["4294967296"])
  })

  it("rejects overlapping tensors, gaps and trailing bytes", () => {
    rejects(rawSafetensors({ a: entry("F32", [2], 0, 8), b: entry("F32", [1], 4, 8) }, eight), "OverlappingTensors", [
      "\"b\""
    ])
    rejects(rawSafetensors({ a: entry("F32", [1], 4, 8) }, eight), "UncoveredData", ["[0, 4)"])
    rejects(rawSafetensors({ a: entry("F32", [1], 0, 4) }, eight), "UncoveredData", ["[4, 8)"])
  })

  it("rejects absurd names: empty, control characters, overlong", () => {
    rejects(rawSafetensors({ "": valid }, eight), "InvalidName", ["empty"])
    rejects(rawSafetensors({ "a\u0000b": valid }, eight), "InvalidName", ["U+0000"])
    rejects(rawSafetensors({ "a\u202eb": valid }, eight), "InvalidName", ["U+202E"])
    rejects(rawSafetensors(`{"\\ud800":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight), "InvalidName", [
      "U+D800"
    ])
    const long = "x".repeat(10_000)
    const error = rejects(rawSafetensors({ [long]: valid }, eight), "InvalidName", ["10000 UTF-8 bytes"])
    assert.isBelow(error.message.length, 400, "the error quotes a shortened name")
  })

  it("limits the number of tensors", () => {
    const header: Record<string, unknown> = {}
    for (let i = 0; i < 5; i++) header[`t${i}`] = entry("F32", [0], 0, 0)
    const error = failureOf(decodeSafetensors(rawSafetensors(header), { file: "f", limits: { maxTensors: 4 } }))
    assert.strictEqual(error.reason, "TooManyTensors")
  })

  it("treats __proto__ as an ordinary tensor name", () => {
    const decoded = getOrThrow(
      decode(rawSafetensors(`{"__proto__":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight))
    )
    assert.isTrue(Object.hasOwn(decoded.tensors, "__proto__"))
    assert.deepStrictEqual([...decoded.tensors["__proto__"].data], [1, 2])
    const again = getOrThrow(decode(getOrThrow(encodeSafetensors(decoded.tensors))))
    assert.isTrue(Object.hasOwn(again.tensors, "__proto__"))
  })

  it("never throws on arbitrary damage to a valid file (fuzz)", () => {
    const good = getOrThrow(encodeSafetensors(modelTensors(1), { metadata: { format: "pt" } }))
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        (edits, cut) => {
          const bytes = good.slice(0, cut === undefined ? good.length : cut % (good.length + 1))
          for (const [position, value] of edits) if (bytes.length > 0) bytes[position % bytes.length] = value
          const result = decode(bytes)
          if (Result.isFailure(result)) assert.strictEqual(result.failure._tag, "SafetensorsError")
          else {for (const t of Object.values(result.success.tensors)) {
              assert.strictEqual(
                t.data.length,
                t.shape.reduce((a, b) => a * b, 1)
              )
            }}
        }
      ),
      { numRuns: 500 }
    )
  })
})

describe("safetensors encoding errors", () => {
  it("rejects names and shapes the decoder would reject", () => {
    assert.strictEqual(
      failureOf(encodeSafetensors({ "": { shape: [1], data: new Float32Array(1) } })).reason,
      "InvalidName"
    )
    assert.strictEqual(
      failureOf(encodeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } })).reason,
      "InvalidName"
    )
    const mismatch = failureOf(encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }))
    assert.strictEqual(mismatch.reason, "ShapeDataMismatch")
    assert.include(mismatch.message, "[2,2]")
    assert.strictEqual(
      failureOf(encodeSafetensors({ w: { shape: [-1], data: new Float32Array(0) } })).reason,
      "InvalidShape"
    )
  })
})
