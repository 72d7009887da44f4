/**
 * Shared test data: small deterministic tensors and snapshots, and helpers to build raw
 * safetensors bytes (including hostile ones) by hand.
 */
import { Result } from "effect"
import type { CheckpointSnapshot } from "../../src/checkpoint/CheckpointStore.ts"
import { normal } from "../../src/tensor/rng.ts"
import { sizeOf, type Tensor } from "../../src/tensor/tensor.ts"

export const randomTensor = (shape: ReadonlyArray<number>, seed: number, stream: number): Tensor => {
  const data = new Float32Array(sizeOf(shape))
  for (let i = 0; i < data.length; i++) data[i] = normal(seed, stream, i)
  return { shape: [...shape], data }
}

export const modelTensors = (seed: number): Record<string, Tensor> => ({
  "tok_embeddings.weight": randomTensor([16, 4], seed, 1),
  "layers.0.attention.wq.weight": randomTensor([4, 4], seed, 2),
  "layers.0.attention_norm.weight": randomTensor([4], seed, 3),
  "norm.weight": randomTensor([4], seed, 4),
  "output.weight": randomTensor([16, 4], seed, 5)
})

export const optimizerTensors = (seed: number): Record<string, Tensor> => ({
  "exp_avg.tok_embeddings.weight": randomTensor([16, 4], seed, 11),
  "exp_avg_sq.tok_embeddings.weight": randomTensor([16, 4], seed, 12),
  "exp_avg.norm.weight": randomTensor([4], seed, 13)
})

export const snapshotAt = (step: number, seed = step): CheckpointSnapshot => ({
  runId: "run-test",
  step,
  config: { steps: 600, model: { dim: 4, layers: 1 }, batch: { global: 16, micro: 4 } },
  fingerprints: { trajectory: "traj-abc", dataset: "data-def", model: "model-123" },
  tensors: { model: modelTensors(seed), optimizer: optimizerTensors(seed) },
  state: {
    step,
    tokensSeen: step * 1024,
    samplesSeen: step * 16,
    schedule: { kind: "wsd", peak: 0.003, warmup: 50, total: 600 },
    data: { cursor: step * 16, batch: { global: 16, micro: 4 } },
    optimizer: { kind: "adamw", betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, step }
  }
})

/** Raw safetensors bytes from a header object (or raw header text) and a data section. */
export const rawSafetensors = (
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  claimedLength?: bigint
): Uint8Array => {
  const json = typeof header === "string"
    ? new TextEncoder().encode(header)
    : new TextEncoder().encode(JSON.stringify(header))
  const out = new Uint8Array(8 + json.length + data.length)
  new DataView(out.buffer).setBigUint64(0, claimedLength ?? BigInt(json.length), true)
  out.set(json, 8)
  out.set(data, 8 + json.length)
  return out
}

export const getOrThrow = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) throw new Error(`expected success, got ${String(result.failure)}`)
  return result.success
}

export const failureOf = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) throw new Error("expected a failure, got success")
  return result.failure
}

export const bitsOf = (data: Float32Array): Uint32Array => new Uint32Array(data.buffer, data.byteOffset, data.length)
