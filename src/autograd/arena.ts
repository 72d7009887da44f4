import { allocate, type DType, type FloatArray } from "../tensor/tensor.ts"

/**
 * Buffers handed out by call order. A model step asks for the same sequence of sizes every
 * time, so after `rewind()` the i-th request returns the buffer the i-th request got last
 * time: activations and gradients are allocated once and reused for every later step.
 * A request whose size differs from last time's gets a fresh buffer in that slot.
 *
 * Buffers are NOT cleared on reuse; every op either overwrites its output completely or
 * clears it first.
 */
export class Arena {
  private readonly slots: Array<FloatArray> = []
  private next = 0

  constructor(readonly dtype: DType) {}

  take(n: number): FloatArray {
    const i = this.next++
    const slot = this.slots[i]
    if (slot !== undefined && slot.length === n) return slot
    const fresh = allocate(this.dtype, n)
    this.slots[i] = fresh
    return fresh
  }

  rewind(): void {
    this.next = 0
  }

  /** Number of buffers held (for tests of reuse). */
  get size(): number {
    return this.slots.length
  }
}
