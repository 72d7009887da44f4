/**
 * The cpu backend's tensor storage: one shared WebAssembly memory that every module of a kernels
 * instance imports, and in which the run allocates its float32 tensors (parameters, gradients,
 * optimizer moments, activations). A kernel whose operands live here works on them in place, by
 * their byte offsets; only operands from elsewhere (the caller's own arrays) are copied in.
 *
 * The memory is shared (a `SharedArrayBuffer` underneath) for two reasons: rank threads build
 * their kernels over the same memory and so read the parameters and write their gradient slots
 * without copies, and growing a shared memory never detaches the views already handed out.
 *
 * Allocation is by `memory.grow`, which is atomic across threads: each grow returns the old size,
 * so the pages it adds belong to the caller alone, and several threads can allocate from one
 * memory without any other coordination. Within a chunk, allocations are 64-byte aligned and
 * padded to whole 16-float blocks: the padding belongs to the allocation, so a SIMD kernel may
 * run its last vector past `n` without touching a neighbour.
 */
import { CPU_TENSOR_MEMORY_BYTES } from "../../../config/memoryEstimate.ts"
import type { TensorStorage } from "../../TensorStorage.ts"
import { sharedMemory, type SharedWasmMemory } from "./instance.ts"

const PAGE = 65536
/** Allocations start on cache lines and span whole ones. */
const ALIGN_FLOATS = 16
/** Pages taken per grow at least, so small tensors do not each cost a grow. */
const CHUNK_PAGES = 16
/**
 * The memory's maximum, 2 GiB: the modules take byte offsets as i32 arguments and compare them as
 * signed numbers, so every address must stay below 2³¹ (the modules declare the same maximum, and
 * a configuration needing more is refused before it runs).
 */
export const MAX_PAGES = CPU_TENSOR_MEMORY_BYTES / PAGE

const padded = (n: number): number => Math.ceil(Math.max(n, 1) / ALIGN_FLOATS) * ALIGN_FLOATS

export class WasmStorageFull extends Error {
  constructor(readonly floats: number) {
    super(`the cpu backend's memory cannot hold ${floats} more floats (its addresses end at 2 GiB)`)
  }
}

export interface WasmStorage extends TensorStorage {
  readonly memory: SharedWasmMemory
  /**
   * A view of `n` floats at `byteOffset` of the memory, allocated by another thread (a rank's
   * view of the run's parameters), known to this storage as an allocation of `capacity` floats.
   */
  readonly view: (byteOffset: number, n: number, capacity?: number) => Float32Array
  /**
   * The byte offset of `x` when a kernel may read `floats` values from its start in place (it lies
   * in this memory, 16-byte aligned), else -1.
   */
  readonly readable: (x: Float32Array | Int32Array, floats: number) => number
  /**
   * The byte offset of `x` when a kernel may write `floats` values from its start in place (it is
   * an allocation of this storage with at least that capacity), else -1.
   */
  readonly writable: (x: Float32Array, floats: number) => number
}

/** A storage over `memory` (shared with other threads), or over a fresh memory of its own. */
export const makeWasmStorage = (memory: SharedWasmMemory = sharedMemory(1, MAX_PAGES)): WasmStorage => {
  /** The capacity (floats) of every allocation handed out, by view. */
  const capacities = new WeakMap<Float32Array, number>()
  /** Released allocations by capacity, reused first. */
  const free = new Map<number, Array<Float32Array>>()
  /** The buffer objects this thread has seen for the memory: views over any of them are ours. */
  const buffers = new WeakSet<object>()
  let chunkEnd = 0
  let next = 0

  const currentBuffer = (): SharedArrayBuffer => {
    const buffer = memory.buffer
    buffers.add(buffer)
    return buffer
  }

  const register = (byteOffset: number, n: number, capacity: number): Float32Array => {
    const view = new Float32Array(currentBuffer(), byteOffset, n)
    capacities.set(view, capacity)
    return view
  }

  const carve = (capacity: number): number => {
    const bytes = capacity * 4
    if (next + bytes > chunkEnd) {
      const pages = Math.max(CHUNK_PAGES, Math.ceil(bytes / PAGE))
      if (memory.buffer.byteLength / PAGE + pages > MAX_PAGES) throw new WasmStorageFull(capacity)
      next = memory.grow(pages) * PAGE
      chunkEnd = next + pages * PAGE
    }
    const at = next
    next += bytes
    return at
  }

  return {
    memory,
    allocate: (n) => {
      const capacity = padded(n)
      const reused = free.get(capacity)?.pop()
      if (reused !== undefined) {
        // Whole-capacity zeroing: a reused block reads as a fresh one, padding included.
        new Float32Array(reused.buffer, reused.byteOffset, capacity).fill(0)
        return register(reused.byteOffset, n, capacity)
      }
      // Fresh pages from grow are zero.
      return register(carve(capacity), n, capacity)
    },
    release: (x) => {
      const capacity = capacities.get(x)
      if (capacity === undefined) return
      capacities.delete(x)
      const list = free.get(capacity) ?? []
      list.push(x)
      free.set(capacity, list)
    },
    read: (x) => x,
    // The kernels work on this memory in place: the host's copy is the only one.
    written: () => undefined,
    fill: (x, value) => {
      x.fill(value)
    },
    view: (byteOffset, n, capacity = padded(n)) => register(byteOffset, n, capacity),
    readable: (x, floats) => {
      if (!buffers.has(x.buffer)) {
        if (x.buffer !== memory.buffer) return -1
        buffers.add(x.buffer)
      }
      return x.byteOffset % 16 === 0 && x.byteOffset + padded(floats) * 4 <= x.buffer.byteLength ? x.byteOffset : -1
    },
    writable: (x, floats) => {
      const capacity = capacities.get(x)
      return capacity !== undefined && capacity >= floats ? x.byteOffset : -1
    }
  }
}
