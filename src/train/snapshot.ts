import { Schema } from "effect"
import { CheckpointState } from "../checkpoint/checkpointState.ts"
import type { CheckpointSnapshot } from "../checkpoint/CheckpointStore.ts"
import type { Lineage } from "../checkpoint/manifest.ts"
import { encodeRunConfig } from "../config/loadConfig.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import type { DataLoaderShape } from "../data/DataLoader.ts"
import { readTensors, type TensorStorage } from "../kernels/TensorStorage.ts"
import type { Params } from "../model/model.ts"
import type { OptimizerState } from "../optim/optimizer.ts"
import type { ResolvedSchedule } from "../optim/schedule.ts"
import { modelFingerprint, trajectoryFingerprint } from "../resume/fingerprints.ts"

export interface SnapshotInput {
  readonly runId: string
  readonly parent: Lineage | undefined
  readonly config: RunConfig
  readonly step: number
  readonly cursor: number
  readonly tokensSeen: number
  readonly params: Params
  readonly optimizer: OptimizerState
  readonly schedule: ResolvedSchedule
  readonly data: DataLoaderShape
  /** Where the tensors live: the snapshot reads their values through it. */
  readonly storage: TensorStorage
}

const encodeState = Schema.encodeSync(CheckpointState)

/** Everything a checkpoint at `step` stores. Tensors are passed live: the store copies them. */
export const makeSnapshot = (input: SnapshotInput): CheckpointSnapshot => {
  const { config, data } = input
  const state: CheckpointState = {
    step: input.step,
    schedule: input.schedule,
    data: {
      cursor: input.cursor,
      fingerprint: data.fingerprint,
      source: data.source,
      seqLen: data.seqLen,
      seed: data.seed,
      geometry: { global: data.geometry.global, micro: data.geometry.micro, dp: data.geometry.dp }
    },
    optimizer: {
      kind: input.optimizer.kind,
      step: input.optimizer.step,
      lr: config.optimizer.lr,
      betas: config.optimizer.betas,
      eps: config.optimizer.eps,
      weightDecay: config.optimizer.weightDecay,
      momentum: config.optimizer.momentum,
      nesterov: config.optimizer.nesterov
    },
    rng: { seed: config.seed, sampleCounter: input.cursor },
    tokensSeen: input.tokensSeen,
    samplesSeen: input.cursor
  }
  return {
    runId: input.runId,
    step: input.step,
    ...(input.parent === undefined ? {} : { parent: input.parent }),
    config: encodeRunConfig(config),
    fingerprints: {
      trajectory: trajectoryFingerprint(config),
      dataset: data.fingerprint,
      model: modelFingerprint(config.model)
    },
    tensors: {
      model: readTensors(input.storage, input.params),
      optimizer: readTensors(input.storage, input.optimizer.tensors)
    },
    state: encodeState(state) as unknown as Record<string, unknown>
  }
}
