/**
 * The messages between a run and its ranks, as Schema data: the run sends one `Setup` to each rank,
 * then one `Step` per update; a rank answers `Ready`, then one reply per step. Everything else a
 * step needs travels through shared memory (`sharedMemory.ts`), whose buffers (and the kernels'
 * WebAssembly memory) `Setup` carries.
 * Messages are encoded before they are posted and decoded when they arrive, so another transport
 * could carry the same protocol.
 */
import { Schema } from "effect"
import { RunConfig } from "../config/RunConfig.ts"
import { isSharedWasmMemory } from "../kernels/cpu/wasm/instance.ts"

const SharedBuffer = Schema.declare((u): u is SharedArrayBuffer => u instanceof SharedArrayBuffer, {
  expected: "SharedArrayBuffer"
})

const SharedMemory = Schema.declare(isSharedWasmMemory, { expected: "a shared WebAssembly.Memory" })

const TensorSlot = Schema.Struct({
  name: Schema.String,
  shape: Schema.Array(Schema.Int),
  offset: Schema.Int
})

const SharedLayout = Schema.Struct({
  ranks: Schema.Int,
  microBatches: Schema.Int,
  microTokens: Schema.Int,
  params: Schema.Array(TensorSlot),
  paramValues: Schema.Int,
  state: Schema.Array(TensorSlot),
  stateValues: Schema.Int,
  owners: Schema.Array(Schema.Int)
})

export const Setup = Schema.TaggedStruct("Setup", {
  rank: Schema.Int,
  /** The run's configuration: the rank builds its own model, update rule and kernels from it. */
  config: RunConfig,
  layout: SharedLayout,
  buffers: Schema.Struct({
    memory: SharedMemory,
    tensors: Schema.Int,
    tokens: SharedBuffer,
    scalars: SharedBuffer,
    control: SharedBuffer
  })
})

export const Step = Schema.TaggedStruct("Step", {
  /** The update being computed, 1-based (the step number it produces). */
  update: Schema.Int,
  lr: Schema.Number,
  /** The optimizer's update count before this update. */
  optimizerStep: Schema.Int
})

export const RankRequest = Schema.Union([Setup, Step])
export type RankRequest = typeof RankRequest.Type

export const Ready = Schema.TaggedStruct("Ready", { rank: Schema.Int })

/** A NaN or ±∞ a rank found in a tensor it updated. */
const NonFiniteTensor = Schema.Struct({ name: Schema.String, value: Schema.Number })

/** Where the rank's time went, in milliseconds (see `RankPhases`). */
const Phases = Schema.Struct({
  compute: Schema.Number,
  reduce: Schema.Number,
  wait: Schema.Number,
  update: Schema.Number
})

export const Stepped = Schema.TaggedStruct("Stepped", {
  rank: Schema.Int,
  phases: Phases,
  loss: Schema.Number,
  gradNorm: Schema.Number,
  /** Whether the update was applied (it is not when the loss or the norm is not finite). */
  applied: Schema.Boolean,
  /** The first non-finite parameter and state tensor among those this rank updated, if any. */
  nonFinite: Schema.Array(NonFiniteTensor)
})

/** The rank could not complete the request: an exception in its thread. */
export const Failed = Schema.TaggedStruct("Failed", {
  rank: Schema.Int,
  update: Schema.Int,
  reason: Schema.String
})

/** The rank gave up the step because another rank failed. */
export const Aborted = Schema.TaggedStruct("Aborted", { rank: Schema.Int })

export type Stepped = typeof Stepped.Type

export const RankReply = Schema.Union([Ready, Stepped, Failed, Aborted])
export type RankReply = typeof RankReply.Type

export const encodeRequest = Schema.encodeSync(RankRequest)
export const decodeRequest = Schema.decodeUnknownSync(RankRequest)
export const encodeReply = Schema.encodeSync(RankReply)
export const decodeReply = Schema.decodeUnknownSync(RankReply)
