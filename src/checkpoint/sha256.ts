import { createHash } from "node:crypto"

/** The sha256 of `bytes` (or of a string's UTF-8), as 64 lowercase hex digits. */
export const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex")

/** Bytes hashed between two progress reports: a large file reports as it goes. */
const HASH_CHUNK = 16 * 1024 * 1024

/**
 * The same digest as `sha256Hex`, computed in chunks with `onChunk(bytesHashed)` after each, so a
 * caller can show how far the hashing of a large file is.
 */
export const sha256HexReporting = (bytes: Uint8Array, onChunk: (hashed: number) => void): string => {
  const hash = createHash("sha256")
  for (let offset = 0; offset < bytes.length; offset += HASH_CHUNK) {
    const end = Math.min(bytes.length, offset + HASH_CHUNK)
    hash.update(bytes.subarray(offset, end))
    onChunk(end)
  }
  if (bytes.length === 0) onChunk(0)
  return hash.digest("hex")
}
