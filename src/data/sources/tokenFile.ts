/**
 * uint16 token files as written by nanoGPT (`prepare.py`: raw little-endian uint16) and by llm.c
 * (a 256 × int32 little-endian header — magic 20240520, version 1, token count — then the uint16
 * tokens). The format is detected by the magic number.
 *
 * A raw file whose first two tokens happen to spell the magic (ids 54600 then 308) would be taken
 * for llm.c; 54600 is outside GPT-2's vocabulary of 50257, so real nanoGPT files never do.
 */
import { Effect } from "effect"
import { DataSourceEmpty, DataSourceInvalid } from "../errors.ts"
import { type TokenStream, uint16Stream } from "../TokenStream.ts"

export const LLMC_MAGIC = 20240520
export const LLMC_VERSION = 1
export const LLMC_HEADER_INTS = 256
export const LLMC_HEADER_BYTES = LLMC_HEADER_INTS * 4

const readUint16LE = (bytes: Uint8Array, offset: number, count: number): Uint16Array => {
  const out = new Uint16Array(count)
  for (let i = 0, p = offset; i < count; i++, p += 2) out[i] = bytes[p] | (bytes[p + 1] << 8)
  return out
}

const writeUint16LE = (tokens: ArrayLike<number>, out: Uint8Array, offset: number): void => {
  for (let i = 0, p = offset; i < tokens.length; i++, p += 2) {
    out[p] = tokens[i] & 0xff
    out[p + 1] = (tokens[i] >>> 8) & 0xff
  }
}

const hasLlmcMagic = (bytes: Uint8Array): boolean =>
  bytes.length >= 4 &&
  new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true) === LLMC_MAGIC

/** Decodes the contents of a token file; `path` only names the file in errors. */
export const decodeTokenFile = (
  path: string,
  bytes: Uint8Array
): Effect.Effect<TokenStream, DataSourceEmpty | DataSourceInvalid> =>
  Effect.suspend((): Effect.Effect<TokenStream, DataSourceEmpty | DataSourceInvalid> => {
    if (hasLlmcMagic(bytes)) {
      if (bytes.length < LLMC_HEADER_BYTES) {
        return Effect.fail(
          new DataSourceInvalid({
            path,
            reason: `llm.c token file: ${bytes.length} bytes is shorter than its ${LLMC_HEADER_BYTES}-byte header`
          })
        )
      }
      const header = new DataView(bytes.buffer, bytes.byteOffset, LLMC_HEADER_BYTES)
      const version = header.getInt32(4, true)
      const count = header.getInt32(8, true)
      if (version !== LLMC_VERSION) {
        return Effect.fail(
          new DataSourceInvalid({
            path,
            reason: `llm.c token file version ${version} is not supported (only version ${LLMC_VERSION}, uint16 tokens)`
          })
        )
      }
      const expected = LLMC_HEADER_BYTES + 2 * count
      if (count < 0 || bytes.length !== expected) {
        return Effect.fail(
          new DataSourceInvalid({
            path,
            reason:
              `llm.c header declares ${count} tokens (${expected} bytes in all) but the file has ${bytes.length} bytes`
          })
        )
      }
      if (count === 0) return Effect.fail(new DataSourceEmpty({ path, reason: "the llm.c header declares 0 tokens" }))
      return Effect.succeed(uint16Stream(path, "llmc-uint16", readUint16LE(bytes, LLMC_HEADER_BYTES, count)))
    }
    if (bytes.length === 0) return Effect.fail(new DataSourceEmpty({ path, reason: "the token file is empty" }))
    if (bytes.length % 2 !== 0) {
      return Effect.fail(
        new DataSourceInvalid({
          path,
          reason: `raw uint16 token file has an odd length of ${bytes.length} bytes`
        })
      )
    }
    return Effect.succeed(uint16Stream(path, "nanogpt-uint16", readUint16LE(bytes, 0, bytes.length / 2)))
  })

/** nanoGPT layout: the tokens as raw little-endian uint16. */
export const encodeNanoGptTokens = (tokens: ArrayLike<number>): Uint8Array => {
  const out = new Uint8Array(tokens.length * 2)
  writeUint16LE(tokens, out, 0)
  return out
}

/** llm.c layout: 256 int32 header (magic, version 1, count), then little-endian uint16 tokens. */
export const encodeLlmcTokens = (tokens: ArrayLike<number>): Uint8Array => {
  const out = new Uint8Array(LLMC_HEADER_BYTES + tokens.length * 2)
  const header = new DataView(out.buffer, 0, LLMC_HEADER_BYTES)
  header.setInt32(0, LLMC_MAGIC, true)
  header.setInt32(4, LLMC_VERSION, true)
  header.setInt32(8, tokens.length, true)
  writeUint16LE(tokens, out, LLMC_HEADER_BYTES)
  return out
}
