import { Context, Effect, Layer } from "effect"
import { RunSettings } from "../config/RunSettings.ts"
import { Start } from "../config/Start.ts"
import { modelFromConfig } from "./fromConfig.ts"
import type { LanguageModel, Params } from "./model.ts"
import { loadParams } from "./params.ts"

export interface ModelShape {
  readonly model: LanguageModel
  /** The live parameters; the optimizer updates them in place. */
  readonly params: Params
}

/** The model of a run and its parameters: initialised from the seed, or loaded by a resume plan. */
export class Model extends Context.Service<Model, ModelShape>()("continuum/Model") {
  static readonly layer = Layer.effect(
    Model,
    Effect.gen(function*() {
      const config = yield* RunSettings
      const start = yield* Start
      const model = modelFromConfig(config.model)
      const fresh = model.init(config.seed)
      if (start.modelTensors === undefined) return { model, params: fresh }
      // A subset load (transfer) overlays the loaded tensors on a fresh initialisation.
      const merged: Record<string, import("../tensor/tensor.ts").Tensor> = Object.fromEntries(fresh)
      for (const [name, tensor] of Object.entries(start.modelTensors)) merged[name] = tensor
      const params = yield* loadParams(model, merged)
      return { model, params }
    })
  )
}
