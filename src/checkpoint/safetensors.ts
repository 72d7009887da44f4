/**
 * The safetensors codec: `Record<string, Tensor>` ⇄ bytes in the standard layout that
 * `safetensors.torch.load_file` reads.
 *
 * Layout: u64 little-endian header length `N`, then `N` bytes of UTF-8 JSON (padded with spaces
 * so the data starts 8-byte aligned), then the raw little-endian tensor data. The header maps each
 * tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data
 * section) and may carry a `__metadata__` string map.
 *
 * Decoding treats the bytes as hostile: every length, offset, dtype, shape and name is checked
 * against hard limits before anything proportional to a claimed size is allocated, and the data
 * section must be covered exactly — no gaps, no overlaps, no trailing bytes.
 */
import { Result, Schema } from "effect"
import { sizeOf, type Tensor } from "../tensor/tensor.ts"
import { bf16ToF32Bits, f16ToF32Bits, f32BitsToBf16, f32BitsToF16 } from "./halfFloat.ts"

export type SafetensorsDType = "F32" | "F16" | "BF16"

const bytesPerElement: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 }

const isDType = (value: unknown): value is SafetensorsDType => value === "F32" || value === "F16" || value === "BF16"

export interface SafetensorsLimits {
  /** Largest accepted JSON header, in bytes. */
  readonly maxHeaderBytes: number
  /** Most tensors one file may hold. */
  readonly maxTensors: number
  /** Longest tensor name, in UTF-8 bytes. */
  readonly maxNameBytes: number
  /** Most dimensions one tensor may have. */
  readonly maxRank: number
}

export const defaultSafetensorsLimits: SafetensorsLimits = {
  maxHeaderBytes: 16 * 1024 * 1024,
  maxTensors: 65_536,
  maxNameBytes: 256,
  maxRank: 16
}

export const SafetensorsProblem = Schema.Literals([
  "FileTooSmall",
  "HeaderTooLarge",
  "HeaderBeyondFile",
  "HeaderNotUtf8",
  "HeaderNotJson",
  "HeaderNotObject",
  "InvalidMetadata",
  "TooManyTensors",
  "InvalidName",
  "InvalidEntry",
  "UnknownDType",
  "InvalidShape",
  "InvalidOffsets",
  "SizeMismatch",
  "OffsetsOutOfRange",
  "OverlappingTensors",
  "UncoveredData",
  "ShapeDataMismatch"
])
export type SafetensorsProblem = typeof SafetensorsProblem.Type

/** One violation of the format or its limits, naming the file, the tensor and the bad value. */
export class SafetensorsError extends Schema.TaggedError<SafetensorsError>()("SafetensorsError", {
  file: Schema.String,
  tensor: Schema.optional(Schema.String),
  reason: SafetensorsProblem,
  detail: Schema.String
}) {
  override get message(): string {
    const where = this.tensor === undefined ? this.file : `${this.file}, tensor ${this.tensor}`
    return `${where}: ${this.reason}: ${this.detail}`
  }
}

/** A validated header entry; `begin`/`end` are byte offsets into the data section. */
export interface SafetensorsEntry {
  readonly name: string
  readonly dtype: SafetensorsDType
  readonly shape: ReadonlyArray<number>
  readonly begin: number
  readonly end: number
}

export interface SafetensorsHeader {
  /** Entries sorted by name. */
  readonly entries: ReadonlyArray<SafetensorsEntry>
  readonly metadata: Readonly<Record<string, string>>
  /** Absolute offset of the data section in the file. */
  readonly dataOffset: number
}

export interface DecodedSafetensors {
  readonly header: SafetensorsHeader
  /** Every tensor widened to float32, whatever its stored dtype. */
  readonly tensors: Record<string, Tensor>
}

export interface DecodeOptions {
  /** How errors name the input (a path or a label). */
  readonly file: string
  readonly limits?: Partial<SafetensorsLimits>
}

export interface EncodeOptions {
  readonly dtype?: SafetensorsDType
  readonly metadata?: Readonly<Record<string, string>>
  /** How errors name the output. */
  readonly file?: string
  readonly limits?: Partial<SafetensorsLimits>
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const METADATA_KEY = "__metadata__"
const ENTRY_KEYS = ["data_offsets", "dtype", "shape"]

/** Names are quoted and cut short so a hostile name cannot flood an error message. */
export const describeName = (name: string): string =>
  name.length <= 80 ? JSON.stringify(name) : `${JSON.stringify(name.slice(0, 80))}… (${name.length} chars)`

const describeValue = (value: unknown): string => {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length <= 120 ? text : `${text.slice(0, 120)}… (${text.length} chars)`
}

// Control, format (bidi overrides, zero-width), surrogate, private-use and line/paragraph
// separator characters: none belongs in a tensor name, and several can disguise one.
const nonPrintable = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/u

/** Why `name` is not an acceptable tensor name, or undefined when it is. */
export const tensorNameProblem = (name: string, maxNameBytes: number): string | undefined => {
  if (name.length === 0) return "the name is empty"
  const bad = nonPrintable.exec(name)
  if (bad !== null) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")
    return `the name contains the non-printable character U+${code}`
  }
  const bytes = Buffer.byteLength(name, "utf8")
  if (bytes > maxNameBytes) return `the name is ${bytes} UTF-8 bytes long; the limit is ${maxNameBytes}`
  return undefined
}

const resolveLimits = (limits: Partial<SafetensorsLimits> | undefined): SafetensorsLimits =>
  limits === undefined ? defaultSafetensorsLimits : { ...defaultSafetensorsLimits, ...limits }

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

type Fail = (reason: SafetensorsProblem, detail: string, tensor?: string) => Result.Result<never, SafetensorsError>

const failFor = (file: string): Fail => (reason, detail, tensor) =>
  Result.fail(
    new SafetensorsError({ file, tensor: tensor === undefined ? undefined : describeName(tensor), reason, detail })
  )

/**
 * Reads and validates the header only; the data section is bounds-checked but not decoded.
 * Allocation is bounded by the header-length limit, checked before the header is read.
 */
export const readSafetensorsHeader = (
  bytes: Uint8Array,
  options: DecodeOptions
): Result.Result<SafetensorsHeader, SafetensorsError> => {
  const limits = resolveLimits(options.limits)
  const fail = failFor(options.file)

  if (bytes.length < 8) return fail("FileTooSmall", `the file has ${bytes.length} bytes; a header length needs 8`)
  const claimed = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  if (claimed > BigInt(limits.maxHeaderBytes)) {
    return fail("HeaderTooLarge", `the header claims ${claimed} bytes; the limit is ${limits.maxHeaderBytes}`)
  }
  const headerLength = Number(claimed)
  if (headerLength > bytes.length - 8) {
    return fail(
      "HeaderBeyondFile",
      `the header claims ${headerLength} bytes but only ${bytes.length - 8} follow the length`
    )
  }

  let text: string
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength))
  } catch {
    return fail("HeaderNotUtf8", `the ${headerLength}-byte header is not valid UTF-8`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    return fail("HeaderNotJson", `the header is not JSON (${error instanceof Error ? error.message : String(error)})`)
  }
  if (!isPlainObject(parsed)) {
    return fail("HeaderNotObject", `the header is ${describeValue(parsed)}, not a JSON object`)
  }

  const dataOffset = 8 + headerLength
  const dataLength = bytes.length - dataOffset

  let metadata: Record<string, string> = {}
  const names = Object.keys(parsed).filter((key) => key !== METADATA_KEY)
  if (Object.hasOwn(parsed, METADATA_KEY)) {
    const raw = parsed[METADATA_KEY]
    if (!isPlainObject(raw)) return fail("InvalidMetadata", `__metadata__ is ${describeValue(raw)}, not a string map`)
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value !== "string") {
        return fail(
          "InvalidMetadata",
          `__metadata__ key ${describeName(key)} holds ${describeValue(value)}, not a string`
        )
      }
    }
    metadata = Object.fromEntries(Object.entries(raw as Record<string, string>))
  }
  if (names.length > limits.maxTensors) {
    return fail("TooManyTensors", `the header lists ${names.length} tensors; the limit is ${limits.maxTensors}`)
  }

  const entries: Array<SafetensorsEntry> = []
  for (const name of names) {
    const nameProblem = tensorNameProblem(name, limits.maxNameBytes)
    if (nameProblem !== undefined) return fail("InvalidName", nameProblem, name)

    const raw = parsed[name]
    if (!isPlainObject(raw)) return fail("InvalidEntry", `the entry is ${describeValue(raw)}, not an object`, name)
    const keys = Object.keys(raw).sort()
    if (keys.length !== ENTRY_KEYS.length || keys.some((key, i) => key !== ENTRY_KEYS[i])) {
      return fail(
        "InvalidEntry",
        `the entry has keys ${describeValue(keys)}; expected ${describeValue(ENTRY_KEYS)}`,
        name
      )
    }

    const dtype = raw.dtype
    if (!isDType(dtype)) return fail("UnknownDType", `dtype ${describeValue(dtype)} is not one of F32, F16, BF16`, name)

    const shape = raw.shape
    if (!Array.isArray(shape) || shape.length > limits.maxRank) {
      return fail(
        "InvalidShape",
        `shape ${describeValue(shape)} is not an array of at most ${limits.maxRank} dimensions`,
        name
      )
    }
    // Count elements exactly: a zero dimension empties the tensor, otherwise the running
    // product is abandoned once its byte size could no longer be an exact integer.
    let elements = 1
    let tooLarge = false
    for (const dim of shape) {
      if (typeof dim !== "number" || !Number.isSafeInteger(dim) || dim < 0) {
        return fail("InvalidShape", `shape ${describeValue(shape)} has the dimension ${describeValue(dim)}`, name)
      }
    }
    if (shape.includes(0)) {
      elements = 0
    } else {
      for (const dim of shape as Array<number>) {
        elements *= dim
        if (elements * bytesPerElement[dtype] > Number.MAX_SAFE_INTEGER) {
          tooLarge = true
          break
        }
      }
    }

    const offsets = raw.data_offsets
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      return fail(
        "InvalidOffsets",
        `data_offsets ${describeValue(offsets)} is not [begin, end] with 0 ≤ begin ≤ end`,
        name
      )
    }
    const [begin, end] = offsets as [number, number]
    if (end > dataLength) {
      return fail(
        "OffsetsOutOfRange",
        `data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data section`,
        name
      )
    }
    if (tooLarge || elements * bytesPerElement[dtype] !== end - begin) {
      const needs = tooLarge ? `more than ${Number.MAX_SAFE_INTEGER}` : String(elements * bytesPerElement[dtype])
      return fail(
        "SizeMismatch",
        `shape ${describeValue(shape)} of ${dtype} needs ${needs} bytes but data_offsets [${begin}, ${end}] hold ${
          end - begin
        }`,
        name
      )
    }
    entries.push({ name, dtype, shape: [...(shape as Array<number>)], begin, end })
  }

  // Exact coverage: sorted by position, each tensor starts where the previous one ended and the
  // last one ends at the end of the file.
  const byPosition = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)
  let covered = 0
  for (const entry of byPosition) {
    if (entry.begin < covered) {
      return fail(
        "OverlappingTensors",
        `data_offsets [${entry.begin}, ${entry.end}] overlap bytes before ${covered}`,
        entry.name
      )
    }
    if (entry.begin > covered) {
      return fail(
        "UncoveredData",
        `bytes [${covered}, ${entry.begin}) of the data section belong to no tensor`,
        entry.name
      )
    }
    covered = entry.end
  }
  if (covered !== dataLength) {
    return fail("UncoveredData", `bytes [${covered}, ${dataLength}) of the data section belong to no tensor`)
  }

  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return Result.succeed({ entries, metadata, dataOffset })
}

/** Widens one validated entry's bytes into a fresh float32 array. */
const decodeEntry = (bytes: Uint8Array, dataOffset: number, entry: SafetensorsEntry): Float32Array => {
  const start = dataOffset + entry.begin
  const byteLength = entry.end - entry.begin
  if (entry.dtype === "F32") {
    const out = new Float32Array(byteLength / 4)
    if (hostIsLittleEndian) {
      // A byte copy works whatever the source alignment, and the result never aliases the file.
      new Uint8Array(out.buffer).set(bytes.subarray(start, start + byteLength))
    } else {
      const view = new DataView(bytes.buffer, bytes.byteOffset + start, byteLength)
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true)
    }
    return out
  }
  const out = new Float32Array(byteLength / 2)
  const outBits = new Uint32Array(out.buffer)
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, byteLength)
  const widen = entry.dtype === "F16" ? f16ToF32Bits : bf16ToF32Bits
  for (let i = 0; i < out.length; i++) outBits[i] = widen(view.getUint16(2 * i, true))
  return out
}

/** Validates and decodes a whole file; every tensor comes back as float32. */
export const decodeSafetensors = (
  bytes: Uint8Array,
  options: DecodeOptions
): Result.Result<DecodedSafetensors, SafetensorsError> =>
  Result.map(readSafetensorsHeader(bytes, options), (header) => ({
    header,
    tensors: Object.fromEntries(
      header.entries.map((
        entry
      ) => [entry.name, { shape: [...entry.shape], data: decodeEntry(bytes, header.dataOffset, entry) }])
    )
  }))

/** The float32 view of a tensor's data, converting (rounding to nearest) when it is float64. */
const asFloat32 = (tensor: Tensor): Float32Array =>
  tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data)

const writeEntry = (out: Uint8Array, offset: number, data: Float32Array, dtype: SafetensorsDType): void => {
  if (dtype === "F32") {
    if (hostIsLittleEndian) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset)
    } else {
      const view = new DataView(out.buffer, out.byteOffset + offset, data.byteLength)
      for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true)
    }
    return
  }
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length)
  const view = new DataView(out.buffer, out.byteOffset + offset, data.length * 2)
  const narrow = dtype === "F16" ? f32BitsToF16 : f32BitsToBf16
  for (let i = 0; i < data.length; i++) view.setUint16(2 * i, narrow(bits[i]), true)
}

/**
 * Encodes tensors in name order, all in one dtype (F32 by default; F16/BF16 round to nearest
 * even). Float64 data is first rounded to float32. The same name and size limits as decoding
 * apply, so whatever this writes, `decodeSafetensors` reads back.
 */
export const encodeSafetensors = (
  tensors: Readonly<Record<string, Tensor>>,
  options: EncodeOptions = {}
): Result.Result<Uint8Array, SafetensorsError> => {
  const limits = resolveLimits(options.limits)
  const fail = failFor(options.file ?? "(encoded safetensors)")
  const dtype = options.dtype ?? "F32"
  const itemBytes = bytesPerElement[dtype]

  const names = Object.keys(tensors).sort()
  if (names.length > limits.maxTensors) {
    return fail("TooManyTensors", `${names.length} tensors; the limit is ${limits.maxTensors}`)
  }
  const header: Record<string, unknown> = {}
  if (options.metadata !== undefined) {
    for (const [key, value] of Object.entries(options.metadata)) {
      if (typeof value !== "string") {
        return fail("InvalidMetadata", `metadata key ${describeName(key)} holds ${describeValue(value)}, not a string`)
      }
    }
    header[METADATA_KEY] = { ...options.metadata }
  }

  let offset = 0
  for (const name of names) {
    if (name === METADATA_KEY) {
      return fail("InvalidName", "the name __metadata__ is reserved for the metadata map", name)
    }
    const nameProblem = tensorNameProblem(name, limits.maxNameBytes)
    if (nameProblem !== undefined) return fail("InvalidName", nameProblem, name)
    const { shape, data } = tensors[name]
    if (shape.length > limits.maxRank || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return fail(
        "InvalidShape",
        `shape ${describeValue(shape)} is not at most ${limits.maxRank} non-negative integers`,
        name
      )
    }
    if (sizeOf(shape) !== data.length) {
      return fail(
        "ShapeDataMismatch",
        `shape ${describeValue(shape)} needs ${sizeOf(shape)} values but the data has ${data.length}`,
        name
      )
    }
    const end = offset + data.length * itemBytes
    Object.defineProperty(header, name, {
      value: { dtype, shape: [...shape], data_offsets: [offset, end] },
      enumerable: true,
      configurable: true,
      writable: true
    })
    offset = end
  }

  const json = new TextEncoder().encode(JSON.stringify(header))
  const headerLength = Math.ceil(json.length / 8) * 8
  if (headerLength > limits.maxHeaderBytes) {
    return fail("HeaderTooLarge", `the header needs ${headerLength} bytes; the limit is ${limits.maxHeaderBytes}`)
  }

  const out = new Uint8Array(8 + headerLength + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true)
  out.set(json, 8)
  out.fill(0x20, 8 + json.length, 8 + headerLength)
  let position = 8 + headerLength
  for (const name of names) {
    const data = asFloat32(tensors[name])
    writeEntry(out, position, data, dtype)
    position += data.length * itemBytes
  }
  return Result.succeed(out)
}
