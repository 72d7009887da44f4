/**
 * Train/validation split and windowing.
 *
 * The last `valFraction` of the stream (⌊n · valFraction⌋ tokens) is held out for validation, so
 * validation text is text the model never trains on and the split does not depend on the seed.
 * Each part is cut into non-overlapping windows of `seqLen + 1` tokens that share their boundary
 * token: window i covers tokens [i·T, i·T + T + 1) of its part — inputs are the first T, targets
 * the same span shifted by one. A part of L tokens holds ⌊(L − 1) / T⌋ windows.
 */
import { Effect } from "effect"
import { DatasetTooSmall, DataSplitInvalid } from "./errors.ts"
import type { TokenArray, TokenStream } from "./TokenStream.ts"

export const DEFAULT_VAL_FRACTION = 0.1

export interface SplitParams {
  readonly valFraction: number
  readonly seqLen: number
}

/** One part of the stream, cut into windows. */
export interface WindowedPart {
  /** The whole token stream; the part is `tokens[offset, offset + length)`. */
  readonly tokens: TokenArray
  readonly offset: number
  readonly length: number
  readonly seqLen: number
  readonly windows: number
}

export interface DatasetSplit {
  readonly stream: TokenStream
  readonly params: SplitParams
  readonly train: WindowedPart
  readonly validation: WindowedPart
}

export const windowCount = (length: number, seqLen: number): number =>
  length < 1 ? 0 : Math.floor((length - 1) / seqLen)

const part = (tokens: TokenArray, offset: number, length: number, seqLen: number): WindowedPart => ({
  tokens,
  offset,
  length,
  seqLen,
  windows: windowCount(length, seqLen)
})

export const validateSplitParams = (params: SplitParams): Effect.Effect<SplitParams, DataSplitInvalid> => {
  const { valFraction, seqLen } = params
  if (!Number.isFinite(valFraction) || valFraction < 0 || valFraction >= 1) {
    return Effect.fail(
      new DataSplitInvalid({
        field: "data.valFraction",
        value: valFraction,
        reason: "must be at least 0 and below 1"
      })
    )
  }
  if (!Number.isSafeInteger(seqLen) || seqLen < 1) {
    return Effect.fail(
      new DataSplitInvalid({ field: "model.seqLen", value: seqLen, reason: "must be a positive integer" })
    )
  }
  return Effect.succeed(params)
}

export const splitDataset = (
  stream: TokenStream,
  params: SplitParams
): Effect.Effect<DatasetSplit, DataSplitInvalid | DatasetTooSmall> =>
  Effect.flatMap(validateSplitParams(params), ({ valFraction, seqLen }) => {
    const n = stream.tokens.length
    const valLength = Math.floor(n * valFraction)
    const trainLength = n - valLength
    const train = part(stream.tokens, 0, trainLength, seqLen)
    if (train.windows < 1) {
      return Effect.fail(
        new DatasetTooSmall({
          source: stream.origin,
          tokens: n,
          trainTokens: trainLength,
          seqLen,
          valFraction
        })
      )
    }
    return Effect.succeed({
      stream,
      params: { valFraction, seqLen },
      train,
      validation: part(stream.tokens, trainLength, valLength, seqLen)
    })
  })
