/**
 * The memory a run shares with its ranks, so that no tensor is copied per step: parameters and
 * optimizer moments (read and updated in place by the ranks), P gradient slots and the step
 * gradient, the step's token ids and targets, per-micro-batch losses and per-tensor squared norms,
 * and the barrier's control words. The layout is plain data (offsets into each buffer), so every
 * thread builds the same views from it.
 *
 * The tensors live in one block of the cpu backend's shared WebAssembly memory, which each rank's
 * kernels are built over: the kernels work on the parameters, moments and gradient slots in place.
 * Each tensor starts on a 16-float boundary and owns its padding (as every storage allocation
 * does), so a SIMD kernel may run its last vector past the tensor's end.
 *
 * Gradient memory is bounded by the number of ranks, not of micro-batches: a rank writes each of
 * its micro-batch gradients into its own slot, and the slots are summed into the step gradient
 * after every round, so (P + 1) parameter-sized buffers suffice for any accumulation.
 */
import type { SharedWasmMemory } from "../kernels/cpu/wasm/instance.ts"
import type { WasmStorage } from "../kernels/cpu/wasm/storage.ts"
import type { NamedTensors } from "../tensor/namedTensors.ts"
import { sizeOf, type Tensor } from "../tensor/tensor.ts"
import { CONTROL_SLOTS } from "./barrier.ts"

/** A tensor's place in the shared tensor block, in floats from the block's start. */
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
  /** The run's kernels memory, and the byte offset of the tensor block in it. */
  readonly memory: SharedWasmMemory
  readonly tensors: number
  readonly tokens: SharedArrayBuffer
  readonly scalars: SharedArrayBuffer
  readonly control: SharedArrayBuffer
}

/** Floats a tensor of `n` values takes in the block: whole 16-float blocks, as a storage allocation. */
const slotFloats = (n: number): number => Math.ceil(Math.max(n, 1) / 16) * 16

const slotsOf = (tensors: NamedTensors): { slots: Array<TensorSlot>; values: number } => {
  const slots: Array<TensorSlot> = []
  let values = 0
  for (const [name, t] of tensors) {
    slots.push({ name, shape: [...t.shape], offset: values })
    values += slotFloats(sizeOf(t.shape))
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

/** Floats of the tensor block: parameters, optimizer state, P gradient slots and the step gradient. */
const blockFloats = (layout: SharedLayout): number => layout.paramValues * (layout.ranks + 2) + layout.stateValues

/** The shared memory of a run: the tensor block in `storage` (the run's kernels memory), the rest beside it. */
export const allocateShared = (layout: SharedLayout, storage: WasmStorage): SharedBuffers => ({
  memory: storage.memory,
  tensors: storage.allocate(blockFloats(layout)).byteOffset,
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

/**
 * The views of one thread, made through its kernels' `storage` (over `buffers.memory`), so that
 * its kernels know the tensors as their own and use them in place.
 */
export const viewsOf = (layout: SharedLayout, buffers: SharedBuffers, storage: WasmStorage): SharedViews => {
  const tensorsAt = (slots: ReadonlyArray<TensorSlot>, base: number): NamedTensors => {
    const tensors = new Map<string, Tensor>()
    for (const slot of slots) {
      const n = sizeOf(slot.shape)
      tensors.set(slot.name, {
        shape: slot.shape,
        data: storage.view(buffers.tensors + (base + slot.offset) * F32, n, slotFloats(n))
      })
    }
    return tensors
  }
  const gradients = layout.paramValues + layout.stateValues
  const tokens = new Int32Array(buffers.tokens)
  const scalars = new Float64Array(buffers.scalars)
  const perBatch = 2 * layout.microTokens
  return {
    params: tensorsAt(layout.params, 0),
    state: tensorsAt(layout.state, layout.paramValues),
    stepGradients: tensorsAt(layout.params, gradients + layout.ranks * layout.paramValues),
    slots: Array.from(
      { length: layout.ranks },
      (_, r) => tensorsAt(layout.params, gradients + r * layout.paramValues)
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
