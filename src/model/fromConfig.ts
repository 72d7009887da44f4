import type { ModelConfig } from "../config/RunConfig.ts"
import { makeLlama } from "./llama.ts"
import { makeMlp } from "./mlp.ts"
import type { LanguageModel } from "./model.ts"

/** The model a run configuration describes (for mlp, `ffnDim` is the hidden width). */
export const modelFromConfig = (config: ModelConfig): LanguageModel =>
  config.kind === "llama"
    ? makeLlama(config)
    : makeMlp({ vocabSize: config.vocabSize, dim: config.dim, hidden: config.ffnDim, seqLen: config.seqLen })
