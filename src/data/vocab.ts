/** The check that a data source's token ids fit the model's embedding table. */
import { Effect } from "effect"
import { VocabSizeMismatch } from "./errors.ts"

export const checkVocabSize = (
  data: { readonly origin: string; readonly vocabSize: number },
  modelVocabSize: number
): Effect.Effect<void, VocabSizeMismatch> =>
  data.vocabSize <= modelVocabSize
    ? Effect.void
    : Effect.fail(
      new VocabSizeMismatch({ source: data.origin, maxTokenId: data.vocabSize - 1, vocabSize: modelVocabSize })
    )
