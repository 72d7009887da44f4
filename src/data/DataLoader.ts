/**
 * The DataLoader service: the loaded and split dataset, the deterministic sampler and the batch
 * geometry. It holds no cursor — the sample cursor is checkpoint state owned by the trainer, which
 * passes it in; every method is a pure function of its arguments and the configuration.
 */
import { Context, Effect, FileSystem, Layer } from "effect"
import { availableParallelism } from "node:os"
import type { BatchConfig } from "../config/RunConfig.ts"
import { type Batch, consecutiveWindows } from "./batch.ts"
import type { DataLoaderError, DatasetTooSmall, DataSplitInvalid } from "./errors.ts"
import { ValidationSetTooSmall, VocabSizeMismatch } from "./errors.ts"
import { datasetFingerprint } from "./fingerprint.ts"
import { microBatchRange, rankMicroBatches, type ResolvedGeometry, resolveGeometry } from "./geometry.ts"
import { makeSampler } from "./sampler.ts"
import { loadSource } from "./sources/loadSource.ts"
import { splitDataset } from "./split.ts"
import type { TokenFormat, TokenStream } from "./TokenStream.ts"
import { checkVocabSize } from "./vocab.ts"

export interface DataLoaderConfig {
  /** `moby-dick`, or a path to a text file, a directory of text files or a `.bin` token file. */
  readonly source: string
  readonly valFraction: number
  readonly seqLen: number
  readonly seed: number
  readonly batch: BatchConfig
  /** Cores that `batch.dp = auto` spreads ranks over; default: the cores Node reports for this process. */
  readonly cores?: number
}

export interface DataLoaderShape {
  readonly source: string
  readonly format: TokenFormat
  /** Hex sha256 of the token stream and split parameters. */
  readonly fingerprint: string
  /** Smallest vocabulary the tokens fit in (256 for text). */
  readonly vocabSize: number
  readonly seqLen: number
  readonly seed: number
  readonly geometry: ResolvedGeometry
  readonly tokens: number
  readonly trainTokens: number
  readonly validationTokens: number
  /** M: training windows, i.e. samples per epoch. */
  readonly windows: number
  readonly validationWindows: number
  /** Epoch of global sample g. */
  readonly epochOf: (g: number) => number
  /** Micro-batch j (0 ≤ j < global/micro) of the step starting at sample `cursor`. */
  readonly microBatch: (cursor: number, j: number) => Batch
  /** The micro-batch indices rank r of the step's P ranks processes, in the order it computes them. */
  readonly rankMicroBatches: (rank: number) => ReadonlyArray<number>
  /** Samples [cursor, cursor + count), whatever the geometry. */
  readonly batchAt: (cursor: number, count: number) => Batch
  /** The first count·batchSize validation windows, in order, as `count` batches of `batchSize`. */
  readonly validationBatches: (
    count: number,
    batchSize: number
  ) => Effect.Effect<ReadonlyArray<Batch>, ValidationSetTooSmall>
  /** Fails unless every token id of the source is below the model's `vocabSize`. */
  readonly checkVocab: (modelVocabSize: number) => Effect.Effect<void, VocabSizeMismatch>
}

/** Builds the loader over an already loaded token stream. */
export const makeDataLoader = Effect.fnUntraced(function*(
  stream: TokenStream,
  config: Omit<DataLoaderConfig, "source">
): Effect.fn.Return<DataLoaderShape, DataSplitInvalid | DatasetTooSmall> {
  const geometry = resolveGeometry(config.batch, config.cores ?? availableParallelism())
  const split = yield* splitDataset(stream, { valFraction: config.valFraction, seqLen: config.seqLen })
  const sampler = makeSampler(config.seed, split.train)
  const fingerprint = datasetFingerprint(stream.tokens, split.params)
  const validation = split.validation

  const validationBatches = (count: number, batchSize: number) => {
    const wanted = count * batchSize
    if (
      !Number.isSafeInteger(count) || !Number.isSafeInteger(batchSize) || count < 0 || batchSize < 1 ||
      wanted > validation.windows
    ) {
      return Effect.fail(new ValidationSetTooSmall({ count, batchSize, available: validation.windows }))
    }
    return Effect.sync(() =>
      Array.from({ length: count }, (_, b) => consecutiveWindows(validation, b * batchSize, batchSize))
    )
  }

  return {
    source: stream.origin,
    format: stream.format,
    fingerprint,
    vocabSize: stream.vocabSize,
    seqLen: config.seqLen,
    seed: config.seed,
    geometry,
    tokens: stream.tokens.length,
    trainTokens: split.train.length,
    validationTokens: validation.length,
    windows: split.train.windows,
    validationWindows: validation.windows,
    epochOf: sampler.epochOf,
    microBatch: (cursor, j) => {
      const { start } = microBatchRange(geometry, cursor, j)
      return sampler.batchAt(start, geometry.micro)
    },
    rankMicroBatches: (rank) => rankMicroBatches(geometry, rank),
    batchAt: sampler.batchAt,
    validationBatches,
    checkVocab: (modelVocabSize) => checkVocabSize(stream, modelVocabSize)
  } satisfies DataLoaderShape
})

export class DataLoader extends Context.Service<DataLoader, DataLoaderShape>()("continuum/DataLoader") {
  /** Loads `config.source` through the FileSystem service (provide `NodeFileSystem.layer`). */
  static readonly layer = (config: DataLoaderConfig): Layer.Layer<DataLoader, DataLoaderError, FileSystem.FileSystem> =>
    Layer.effect(
      DataLoader,
      Effect.flatMap(loadSource(config.source), (stream) => makeDataLoader(stream, config))
    )

  /** Over tokens already in memory; needs no file system. */
  static readonly layerTokens = (
    stream: TokenStream,
    config: Omit<DataLoaderConfig, "source">
  ): Layer.Layer<DataLoader, DataSplitInvalid | DatasetTooSmall> =>
    Layer.effect(DataLoader, makeDataLoader(stream, config))
}
