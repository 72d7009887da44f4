/**
 * A dataset as one flat stream of token ids, before it is split and windowed.
 *
 * Text is byte-level (every UTF-8 byte is a token, vocabulary 256) and kept as `Uint8Array`;
 * token files carry uint16 ids and are kept as `Uint16Array`. `vocabSize` is the smallest
 * vocabulary the stream fits in, which the model's `vocabSize` must reach.
 */

export type TokenArray = Uint8Array | Uint16Array

export type TokenFormat = "bytes" | "nanogpt-uint16" | "llmc-uint16"

export interface TokenStream {
  /** Where the tokens came from: `moby-dick` or the path given as `data.source`. */
  readonly origin: string
  readonly format: TokenFormat
  readonly tokens: TokenArray
  /** Byte streams: 256. Token files: largest id present + 1. */
  readonly vocabSize: number
}

export const BYTE_VOCAB_SIZE = 256

export const byteStream = (origin: string, bytes: Uint8Array): TokenStream => ({
  origin,
  format: "bytes",
  tokens: bytes,
  vocabSize: BYTE_VOCAB_SIZE
})

export const maxTokenId = (tokens: TokenArray): number => {
  let max = 0
  for (let i = 0; i < tokens.length; i++) if (tokens[i] > max) max = tokens[i]
  return max
}

export const uint16Stream = (
  origin: string,
  format: "nanogpt-uint16" | "llmc-uint16",
  tokens: Uint16Array
): TokenStream => ({ origin, format, tokens, vocabSize: maxTokenId(tokens) + 1 })

/** Bytes per token in the stream's canonical little-endian serialization. */
export const tokenWidth = (tokens: TokenArray): 1 | 2 => (tokens instanceof Uint8Array ? 1 : 2)

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** The stream as little-endian bytes (a view when the host is little-endian, a copy otherwise). */
export const tokenBytes = (tokens: TokenArray): Uint8Array => {
  if (tokens instanceof Uint8Array) return tokens
  if (littleEndianHost) return new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength)
  const out = new Uint8Array(tokens.length * 2)
  for (let i = 0; i < tokens.length; i++) {
    out[2 * i] = tokens[i] & 0xff
    out[2 * i + 1] = tokens[i] >>> 8
  }
  return out
}
