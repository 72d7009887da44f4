/**
 * The memory a run shares with its ranks, so that no tensor is copied per step: parameters and
 * optimizer moments (read and updated in place by the ranks), P gradient slots and the step
 * gradient, the step's token ids and targets, per-micro-batch losses and per-tensor squared norms,
 * and the barrier's control words. The layout is plain data (offsets into each buffer), so every
 * thread builds the same views from it.
 *
 * Gradient memory is bounded by the number of ranks, not of micro-batches: a rank writes each of
 * its micro-batch gradients into its own slot, and the slots are summed into the step gradient
 * after every round, so (P + 1) parameter-sized buffers suffice for any accumulation.
 */
import type { NamedTensors } from "../tensor/namedTensors.ts"
import { sizeOf, type Tensor } from "../tensor/tensor.ts"
import { CONTROL_SLOTS } from "./barrier.ts"

/** A tensor's place in a shared buffer, in values from the buffer's start. */
export interface TensorSlot {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly offset: number
}

export interface SharedLayout {
  readonly ranks: number
  readonly microBatches: number
  /** μ·T: token ids (and targets) per micro-batch. */
  readonly microTokens: number
  /** The parameters in canonical order. */
  readonly params: ReadonlyArray<TensorSlot>
  readonly paramValues: number
  /** The optimizer state tensors in the state's canonical order (`<prefix>.<parameter>`). */
  readonly state: ReadonlyArray<TensorSlot>
  readonly stateValues: number
  /** The rank that reduces and updates each parameter (by canonical index), and its state. */
  readonly owners: ReadonlyArray<number>
}

export interface SharedBuffers {
  readonly params: SharedArrayBuffer
  readonly state: SharedArrayBuffer
  readonly gradients: SharedArrayBuffer
  readonly tokens: SharedArrayBuffer
  readonly scalars: SharedArrayBuffer
  readonly control: SharedArrayBuffer
}

const slotsOf = (tensors: NamedTensors): { slots: Array<TensorSlot>; values: number } => {
  const slots: Array<TensorSlot> = []
  let values = 0
  for (const [name, t] of tensors) {
    slots.push({ name, shape: [...t.shape], offset: values })
    values += sizeOf(t.shape)
  }
  return { slots, values }
}

/**
 * Each parameter goes to the rank with the least work so far, largest parameters first (ties to
 * the lower rank and the earlier parameter), so the reduction and the update are spread evenly.
 * Which rank updates a tensor never changes its values: both are elementwise per tensor.
 */
const assignOwners = (sizes: ReadonlyArray<number>, ranks: number): Array<number> => {
  const load = new Array<number>(ranks).fill(0)
  const owners = new Array<number>(sizes.length).fill(0)
  const bySize = sizes.map((size, index) => ({ size, index })).sort((a, b) => b.size - a.size || a.index - b.index)
  for (const { index, size } of bySize) {
    let least = 0
    for (let r = 1; r < ranks; r++) if (load[r]! < load[least]!) least = r
    owners[index] = least
    load[least]! += size
  }
  return owners
}

export const planLayout = (
  params: NamedTensors,
  state: NamedTensors,
  geometry: { readonly ranks: number; readonly microBatches: number; readonly microTokens: number }
): SharedLayout => {
  const p = slotsOf(params)
  const s = slotsOf(state)
  return {
    ...geometry,
    params: p.slots,
    paramValues: p.values,
    state: s.slots,
    stateValues: s.values,
    owners: assignOwners(p.slots.map((slot) => sizeOf(slot.shape)), geometry.ranks)
  }
}

const F32 = 4
const F64 = 8
const I32 = 4

/** Bytes of the gradient slots and the step gradient: (P + 1) parameter-sized float32 buffers. */
export const gradientBytes = (layout: SharedLayout): number => (layout.ranks + 1) * layout.paramValues * F32

export const allocateShared = (layout: SharedLayout): SharedBuffers => ({
  params: new SharedArrayBuffer(layout.paramValues * F32),
  state: new SharedArrayBuffer(layout.stateValues * F32),
  gradients: new SharedArrayBuffer(gradientBytes(layout)),
  tokens: new SharedArrayBuffer(2 * layout.microBatches * layout.microTokens * I32),
  scalars: new SharedArrayBuffer((layout.microBatches + layout.params.length) * F64),
  control: new SharedArrayBuffer(CONTROL_SLOTS * I32)
})

export interface SharedViews {
  readonly params: NamedTensors
  readonly state: NamedTensors
  /** The step gradient: the sum of the micro-batch gradients in order of j. */
  readonly stepGradients: NamedTensors
  /** Rank r's micro-batch gradient of the current round. */
  readonly slots: ReadonlyArray<NamedTensors>
  readonly ids: (j: number) => Int32Array
  readonly targets: (j: number) => Int32Array
  /** Summed cross-entropy (nats) of micro-batch j. */
  readonly losses: Float64Array
  /** Σ g² of each parameter's step gradient, by canonical index. */
  readonly squares: Float64Array
  readonly control: Int32Array
}

const tensorsAt = (buffer: SharedArrayBuffer, slots: ReadonlyArray<TensorSlot>, base = 0): NamedTensors => {
  const tensors = new Map<string, Tensor>()
  for (const slot of slots) {
    tensors.set(slot.name, {
      shape: slot.shape,
      data: new Float32Array(buffer, (base + slot.offset) * F32, sizeOf(slot.shape))
    })
  }
  return tensors
}

export const viewsOf = (layout: SharedLayout, buffers: SharedBuffers): SharedViews => {
  const tokens = new Int32Array(buffers.tokens)
  const scalars = new Float64Array(buffers.scalars)
  const perBatch = 2 * layout.microTokens
  return {
    params: tensorsAt(buffers.params, layout.params),
    state: tensorsAt(buffers.state, layout.state),
    stepGradients: tensorsAt(buffers.gradients, layout.params, layout.ranks * layout.paramValues),
    slots: Array.from(
      { length: layout.ranks },
      (_, r) => tensorsAt(buffers.gradients, layout.params, r * layout.paramValues)
    ),
    ids: (j) => tokens.subarray(j * perBatch, j * perBatch + layout.microTokens),
    targets: (j) => tokens.subarray(j * perBatch + layout.microTokens, (j + 1) * perBatch),
    losses: scalars.subarray(0, layout.microBatches),
    squares: scalars.subarray(layout.microBatches),
    control: new Int32Array(buffers.control)
  }
}

/**
 * Moves the live tensors of `live` into `shared` (same names and shapes): copies their values and
 * replaces each entry of the map, so every holder of the map — the model, the optimizer, the
 * checkpoint snapshot — reads and writes the shared memory from now on.
 */
export const moveIntoShared = (live: NamedTensors, shared: NamedTensors): void => {
  for (const [name, tensor] of shared) {
    tensor.data.set(live.get(name)!.data)
    live.set(name, tensor)
  }
}
