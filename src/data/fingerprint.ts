/**
 * The dataset fingerprint: sha256 over a small header naming the token width and the split
 * parameters, followed by the whole token stream as little-endian bytes. Identical data split
 * identically gives the identical hex string, whatever file or format it was read from; a change
 * of any token, of `valFraction` or of `seqLen` (which redefines what a window — and so a data
 * cursor — means) changes it. The sampler seed is not part of it: it is not data.
 */
import { createHash } from "node:crypto"
import type { SplitParams } from "./split.ts"
import { type TokenArray, tokenBytes, tokenWidth } from "./TokenStream.ts"

export const FINGERPRINT_VERSION = "continuum-dataset/1"

export const datasetFingerprint = (tokens: TokenArray, params: SplitParams): string => {
  const header = JSON.stringify({
    format: FINGERPRINT_VERSION,
    tokenBytes: tokenWidth(tokens),
    tokens: tokens.length,
    valFraction: params.valFraction,
    seqLen: params.seqLen
  })
  return createHash("sha256").update(`${header}\n`, "utf8").update(tokenBytes(tokens)).digest("hex")
}
