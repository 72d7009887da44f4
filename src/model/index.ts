export {
  MissingParamError,
  ModelInputError,
  type ParamMapError,
  ParamShapeError,
  UnexpectedParamError
} from "./errors.ts"
export { initParams, zerosFor } from "./init.ts"
export { llamaParams, makeLlama } from "./llama.ts"
export { makeMlp, mlpParams } from "./mlp.ts"
export type { LanguageModel, LlamaConfig, MlpConfig, ParamInit, Params, ParamSpec } from "./model.ts"
export { checkParamMap, dumpParams, loadParams } from "./params.ts"
