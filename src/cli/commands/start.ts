import { Effect, Layer } from "effect"
import type { RunConfig } from "../../config/RunConfig.ts"
import type { CheckpointStore } from "../../checkpoint/CheckpointStore.ts"
import type { RunSettings } from "../../config/RunSettings.ts"
import type { DataLoader } from "../../data/DataLoader.ts"
import { Start } from "../../train/Start.ts"

/** How the run starts; may read the settings, the dataset and the run's checkpoints. */
export type StartLayer = Layer.Layer<Start, unknown, RunSettings | DataLoader | CheckpointStore>

export interface StartRequest {
  /** `auto`, `exact`, `continue`, `transfer` or a policy JSON file; absent for a fresh run. */
  readonly resume: string | undefined
  /** A checkpoint directory or a .safetensors file; default: the latest valid checkpoint of runDir. */
  readonly from: string | undefined
}

export interface ResolvedStart {
  readonly layer: StartLayer
  readonly description: string | undefined
}

/** Decides how the run starts (fresh for now; resume planning plugs in here). */
export const resolveStart = (_config: RunConfig, _request: StartRequest): Effect.Effect<ResolvedStart> =>
  Effect.succeed({ layer: Start.fresh, description: undefined })
