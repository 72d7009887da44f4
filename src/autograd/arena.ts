import { hostStorage, type TensorStorage } from "../kernels/TensorStorage.ts"
import { allocate, type DType, type FloatArray } from "../tensor/tensor.ts"

/**
 * Buffers handed out by call order. A model step asks for the same sequence of sizes every
 * time, so after `rewind()` the i-th request returns the buffer the i-th request got last
 * time: activations and gradients are allocated once and reused for every later step.
 * A request whose size differs from last time's gets a fresh buffer in that slot, and the old one
 * goes back to the storage.
 *
 * Float32 buffers come from the kernels' storage, so the kernels use them in place; float64
 * ones (gradient checks) from the JavaScript heap.
 *
 * Buffers are NOT cleared on reuse; every op either overwrites its output completely or
 * clears it first.
 */
export class Arena {
  private readonly slots: Array<FloatArray> = []
  private next = 0

  constructor(readonly dtype: DType, private readonly storage: TensorStorage = hostStorage) {}

  take(n: number): FloatArray {
    const i = this.next++
    const slot = this.slots[i]
    if (slot !== undefined && slot.length === n) return slot
    if (slot instanceof Float32Array) this.storage.release(slot)
    const fresh = this.dtype === "f32" ? this.storage.allocate(n) : allocate(this.dtype, n)
    this.slots[i] = fresh
    return fresh
  }

  rewind(): void {
    this.next = 0
  }

  /** Gives every buffer back to the storage; the arena starts empty. */
  releaseAll(): void {
    for (const slot of this.slots) if (slot instanceof Float32Array) this.storage.release(slot)
    this.slots.length = 0
    this.next = 0
  }

  /** Number of buffers held (for tests of reuse). */
  get size(): number {
    return this.slots.length
  }
}
