/**
 * Reads a file whole, but only when that is safe: a regular file (after following symbolic
 * links), no larger than a limit. A device (`/dev/zero`), a FIFO or a directory would otherwise
 * hang the read or grow a buffer until the process runs out of memory. At most `limit + 1` bytes
 * are ever read, so a file that grows while it is read is refused too.
 *
 * Callers map the refusal onto their own typed error (configuration, policy, weights, data).
 */
import { Data, Effect, FileSystem } from "effect"
import { constants } from "node:buffer"

/**
 * Why a file was not read. `refused`: it is not a regular file or too large, and `reason`
 * completes a sentence about the path ("is a device, not a regular file"); `missing` and
 * `unreadable`: the file system failed, and `reason` is its message.
 */
export class FileReadRefused extends Data.TaggedError("FileReadRefused")<{
  readonly path: string
  readonly cause: "refused" | "missing" | "unreadable"
  readonly reason: string
}> {
  /** The reason as one phrase for any caller: "is a device, …" or "cannot read: NotFound: …". */
  get phrase(): string {
    return this.cause === "refused" ? this.reason : `cannot read: ${this.reason}`
  }

  /** The reason as a sentence that names the path: "/dev/zero is a device, …". */
  get sentence(): string {
    return this.cause === "refused" ? `${this.path} ${this.reason}` : `cannot read ${this.path}: ${this.reason}`
  }
}

const refuse = (path: string, reason: string) => new FileReadRefused({ path, cause: "refused", reason })

/** "a device", "a FIFO", "a directory"… */
export const describeType = (type: FileSystem.File.Type): string =>
  type === "Directory"
    ? "a directory"
    : type === "CharacterDevice" || type === "BlockDevice"
    ? "a device"
    : type === "FIFO"
    ? "a FIFO"
    : type === "Socket"
    ? "a socket"
    : `not a regular file (${type})`

/** Reads into a buffer grown as needed, stopping at `cap` bytes or at the end of the file. */
const readUpTo = (file: FileSystem.File, expected: number, cap: number) =>
  Effect.gen(function*() {
    let buffer = new Uint8Array(Math.min(cap, Math.max(expected + 1, 4096)))
    let filled = 0
    while (filled < cap) {
      if (filled === buffer.length) {
        const grown = new Uint8Array(Math.min(cap, buffer.length * 2))
        grown.set(buffer)
        buffer = grown
      }
      const n = yield* file.read(buffer.subarray(filled))
      if (n === 0) break
      filled += n
    }
    return buffer.subarray(0, filled)
  })

/** Formats a byte count for messages: `1048576 bytes (1.0 MiB)`. */
export const describeBytes = (bytes: number): string => {
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
  let value = bytes
  let unit = "bytes"
  for (const next of units) {
    if (value < 1024) break
    value /= 1024
    unit = next
  }
  return unit === "bytes" ? `${bytes} bytes` : `${value.toFixed(1)} ${unit}`
}

/** `4095 bytes`, `1048577 bytes (1.0 MiB)`: exact, so a limit one byte off reads differently. */
const exactBytes = (bytes: number): string =>
  bytes < 1024 ? `${bytes} bytes` : `${bytes} bytes (${describeBytes(bytes)})`

/**
 * The bytes of `path` when it is a regular file of at most `limit` bytes. The type is checked
 * before opening (opening a FIFO blocks) and again on the open descriptor (the path may have
 * been replaced in between).
 */
export const readBoundedFile = (
  path: string,
  requestedLimit: number
): Effect.Effect<Uint8Array, FileReadRefused, FileSystem.FileSystem> =>
  Effect.scoped(Effect.gen(function*() {
    // One read fills one array: never more than the largest array the runtime can allocate.
    const limit = Math.min(requestedLimit, constants.MAX_LENGTH - 1)
    const fs = yield* FileSystem.FileSystem
    const checkInfo = (info: FileSystem.File.Info) => {
      if (info.type !== "File") return Effect.fail(refuse(path, `is ${describeType(info.type)}, not a regular file`))
      const size = Number(info.size)
      return size > limit
        ? Effect.fail(refuse(path, `is ${exactBytes(size)}, more than the ${exactBytes(limit)} allowed`))
        : Effect.succeed(size)
    }
    const failed = (e: { readonly reason: { readonly _tag: string }; readonly message: string }) =>
      new FileReadRefused({ path, cause: e.reason._tag === "NotFound" ? "missing" : "unreadable", reason: e.message })
    yield* Effect.flatMap(Effect.mapError(fs.stat(path), failed), checkInfo)
    const file = yield* Effect.mapError(fs.open(path, { flag: "r" }), failed)
    const size = yield* Effect.flatMap(Effect.mapError(file.stat, failed), checkInfo)
    const bytes = yield* Effect.mapError(readUpTo(file, size, limit + 1), failed)
    if (bytes.length > limit) {
      return yield* refuse(path, `grew past the ${exactBytes(limit)} allowed while it was read`)
    }
    return bytes
  }))

/** `readBoundedFile`, decoded as UTF-8. */
export const readBoundedText = (path: string, limit: number) =>
  Effect.map(readBoundedFile(path, limit), (bytes) => new TextDecoder().decode(bytes))
