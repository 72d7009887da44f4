/**
 * A trained model back from a checkpoint: its configuration from the manifest, its weights from
 * the verified model file. The optimizer file is neither read nor needed.
 */
import { Effect } from "effect"
import type { CheckpointStoreShape, ReadError } from "../checkpoint/CheckpointStore.ts"
import type { Manifest } from "../checkpoint/manifest.ts"
import { decodeRunConfig } from "../config/loadConfig.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { modelFromConfig } from "../model/fromConfig.ts"
import type { LanguageModel, Params } from "../model/model.ts"
import { loadParams } from "../model/params.ts"
import { ModelUnloadable } from "./errors.ts"

export interface LoadedModel {
  /** The checkpoint directory. */
  readonly location: string
  readonly step: number
  readonly manifest: Manifest
  readonly config: RunConfig
  readonly model: LanguageModel
  readonly params: Params
}

/** Loads (and so verifies) the model weights of checkpoint `step` and builds its model. */
export const loadModelAt = Effect.fnUntraced(function*(
  store: CheckpointStoreShape,
  step: number
): Effect.fn.Return<LoadedModel, ReadError | ModelUnloadable> {
  const checkpoint = yield* store.load(step, { components: ["model"] })
  const unloadable = (detail: string) => new ModelUnloadable({ location: checkpoint.location, detail })
  const config = yield* decodeRunConfig(checkpoint.manifest.config).pipe(
    Effect.mapError((e) => unloadable(`the stored configuration does not decode: ${e.message}`))
  )
  const model = modelFromConfig(config.model)
  const params = yield* loadParams(model, checkpoint.tensors.model).pipe(
    Effect.mapError((e) => unloadable(`model.safetensors does not fit the configured model: ${e.message}`))
  )
  return { location: checkpoint.location, step, manifest: checkpoint.manifest, config, model, params }
})
