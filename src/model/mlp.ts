import { silu } from "../autograd/ops/elementwise.ts"
import { embedding } from "../autograd/ops/embedding.ts"
import { linear } from "../autograd/ops/linalg.ts"
import type { LanguageModel, MlpConfig, ParamSpec } from "./model.ts"
import { type Forward, languageModel } from "./runner.ts"

/**
 * A small next-token model for quick runs: each position sees only its own token,
 * `logits = output · silu(hidden · tok_embeddings[id])`. Init: normal(0, 0.02) everywhere.
 */
export const mlpParams = (c: MlpConfig): ReadonlyArray<ParamSpec> => {
  const matrix = (name: string, shape: ReadonlyArray<number>): ParamSpec => ({
    name,
    shape,
    decay: true,
    init: { kind: "normal", std: 0.02 }
  })
  return [
    matrix("tok_embeddings.weight", [c.vocabSize, c.dim]),
    matrix("hidden.weight", [c.hidden, c.dim]),
    matrix("output.weight", [c.vocabSize, c.hidden])
  ]
}

/** `c` holds the positive sizes of a decoded model configuration (`hidden` is its `ffnDim`). */
export const makeMlp = (c: MlpConfig): LanguageModel => {
  const forward: Forward = (t, param, ids) => {
    const x = embedding(t, param("tok_embeddings.weight"), ids)
    const h = silu(t, linear(t, x, param("hidden.weight")))
    return linear(t, h, param("output.weight"))
  }
  return languageModel({
    kind: "mlp",
    config: c,
    vocabSize: c.vocabSize,
    seqLen: c.seqLen,
    params: mlpParams(c),
    forward
  })
}
