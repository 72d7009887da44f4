import { Context, Effect, Layer } from "effect"
import { RunSettings } from "../config/RunSettings.ts"
import { Start } from "../config/Start.ts"
import { Parameters } from "../tensor/namedTensors.ts"
import type { Tensor } from "../tensor/tensor.ts"
import { modelFromConfig } from "./fromConfig.ts"
import type { LanguageModel, Params } from "./model.ts"
import { loadParams } from "./params.ts"

/** A subset load (transfer) overlays the loaded tensors on a fresh initialisation. */
const overlay = (fresh: Params, loaded: Readonly<Record<string, Tensor>>): Record<string, Tensor> => {
  const merged: Record<string, Tensor> = Object.fromEntries(fresh)
  for (const [name, tensor] of Object.entries(loaded)) merged[name] = tensor
  return merged
}

export interface ModelShape {
  readonly model: LanguageModel
  /** The live parameters; the optimizer updates them in place. */
  readonly params: Params
}

/**
 * The model of a run and its parameters: initialised from the seed, or loaded by a resume plan.
 * The layer also provides the parameters alone, as `Parameters`, for the optimizer.
 */
export class Model extends Context.Service<Model, ModelShape>()("continuum/Model") {
  static readonly layer = Layer.effectContext(
    Effect.gen(function*() {
      const config = yield* RunSettings
      const start = yield* Start
      const model = modelFromConfig(config.model)
      const fresh = model.init(config.seed)
      const params = start.modelTensors === undefined
        ? fresh
        : yield* loadParams(model, overlay(fresh, start.modelTensors))
      return Context.make(Model, { model, params }).pipe(Context.add(Parameters, { params }))
    })
  )
}
