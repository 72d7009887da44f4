/**
 * How one kernel call reaches its operands in the instance's WebAssembly memory. A call declares
 * its operands in the order the export takes them, then `place` gives each a byte offset:
 *
 * - an operand that lives in the storage (`storage.ts`) is used in place — the common case in
 *   training, where parameters, gradients, moments and activations are all allocated there;
 * - any other operand (a caller's own array, a view the kernel may not write past) is staged in
 *   the instance's scratch area: inputs are copied in, and outputs are copied back by `finish`.
 *
 * Staged operands sit back to back at 16-byte aligned offsets, each padded to whole f32x4 vectors,
 * so the modules' loops never need a scalar tail. The scratch area is itself a storage allocation,
 * replaced by a larger one when a call needs more. Once warm, a call allocates nothing but the
 * views that copy a staged operand that is longer than its count.
 */
import type { WasmStorage } from "./storage.ts"

/** Largest working set a call may stage: byte offsets must stay below 2³¹ as i32 arguments. */
const MAX_BYTES = 2 ** 31 - 65536

/** Elements (4 bytes each: floats or int32 ids) rounded up to whole 16-byte vectors. */
const padded = (n: number): number => (n + 3) & ~3

/** Whether operands of these element counts fit a module's 32-bit addressing. */
export const operandsFit = (...counts: ReadonlyArray<number>): boolean =>
  counts.reduce((sum, n) => sum + padded(n), 0) * 4 <= MAX_BYTES

const INPUT = 0
const OUTPUT = 1
const INOUT = 2
const SCRATCH = 3
type Kind = typeof INPUT | typeof OUTPUT | typeof INOUT | typeof SCRATCH

export interface OperandHeap {
  readonly storage: WasmStorage
  /** Starts a call, forgetting the previous call's operands. */
  readonly begin: () => void
  /** An operand the kernel reads (its first `n` values). */
  readonly input: (x: Float32Array | Int32Array, n: number) => void
  /** An operand the kernel overwrites: `n` values, with room for `room` from its start. */
  readonly output: (x: Float32Array, n: number, room?: number) => void
  /** An operand the kernel reads and writes (accumulated into): `n` values, room for `room`. */
  readonly inout: (x: Float32Array, n: number, room?: number) => void
  /** Working space of `floats` values that only the kernel uses. */
  readonly scratch: (floats: number) => void
  /**
   * The byte offsets of the declared operands, in order; copies staged inputs in. Unless
   * `inPlaceSafe` (the kernel reads each element before writing it, as elementwise ones do), a
   * written operand that overlaps another is staged, so the kernel never sees aliased operands.
   * The returned array is reused by the next call.
   */
  readonly place: (inPlaceSafe: boolean) => ReadonlyArray<number>
  /** Copies staged outputs back to their arrays. */
  readonly finish: () => void
  /** The whole memory as floats (index = byte offset / 4), for results read in place. */
  readonly floats: () => Float32Array
  /** The whole memory as doubles (index = byte offset / 8). */
  readonly doubles: () => Float64Array
}

export const makeOperandHeap = (storage: WasmStorage): OperandHeap => {
  const kinds: Array<Kind> = []
  const arrays: Array<Float32Array | Int32Array | undefined> = []
  const counts: Array<number> = []
  const rooms: Array<number> = []
  const staged: Array<boolean> = []
  const offsets: Array<number> = []
  let operands = 0
  let area = storage.allocate(1024)
  let areaInts = new Int32Array(area.buffer, area.byteOffset, area.length)
  let f32 = new Float32Array(storage.memory.buffer)
  let f64 = new Float64Array(storage.memory.buffer)

  const declare = (kind: Kind, x: Float32Array | Int32Array | undefined, n: number, room: number): void => {
    kinds[operands] = kind
    arrays[operands] = x
    counts[operands] = n
    rooms[operands] = room
    operands++
  }

  const residentOffset = (i: number): number => {
    const x = arrays[i]
    if (x === undefined) return -1
    if (kinds[i] === INPUT) return storage.readable(x, counts[i]!)
    return x instanceof Float32Array ? storage.writable(x, rooms[i]!) : -1
  }

  const overlapsAnother = (i: number): boolean => {
    const start = offsets[i]!
    const end = start + rooms[i]! * 4
    for (let j = 0; j < operands; j++) {
      if (j === i || staged[j] || kinds[j] === SCRATCH) continue
      const otherStart = offsets[j]!
      if (otherStart < end && start < otherStart + rooms[j]! * 4) return true
    }
    return false
  }

  const ensureArea = (floats: number): void => {
    if (floats <= area.length) return
    storage.release(area)
    area = storage.allocate(Math.max(floats, 2 * area.length))
    areaInts = new Int32Array(area.buffer, area.byteOffset, area.length)
  }

  return {
    storage,
    begin: () => {
      operands = 0
    },
    input: (x, n) => declare(INPUT, x, n, n),
    output: (x, n, room = n) => declare(OUTPUT, x, n, room),
    inout: (x, n, room = n) => declare(INOUT, x, n, room),
    scratch: (floats) => declare(SCRATCH, undefined, floats, floats),
    place: (inPlaceSafe) => {
      for (let i = 0; i < operands; i++) {
        offsets[i] = residentOffset(i)
        staged[i] = offsets[i]! < 0
      }
      if (!inPlaceSafe) {
        for (let i = 0; i < operands; i++) {
          if (kinds[i] !== INPUT && !staged[i] && overlapsAnother(i)) staged[i] = true
        }
      }
      let floats = 0
      for (let i = 0; i < operands; i++) if (staged[i]) floats += padded(rooms[i]!)
      ensureArea(floats)
      let at = 0
      for (let i = 0; i < operands; i++) {
        if (!staged[i]) continue
        offsets[i] = area.byteOffset + at * 4
        const x = arrays[i]
        const n = counts[i]!
        if (x !== undefined && kinds[i] !== OUTPUT) {
          const source = x.length === n ? x : x.subarray(0, n)
          if (source instanceof Int32Array) areaInts.set(source, at)
          else area.set(source, at)
        }
        at += padded(rooms[i]!)
      }
      offsets.length = operands
      return offsets
    },
    finish: () => {
      for (let i = 0; i < operands; i++) {
        const x = arrays[i]
        if (!staged[i] || x === undefined || kinds[i] === INPUT) continue
        const from = (offsets[i]! - area.byteOffset) / 4
        x.set(area.subarray(from, from + counts[i]!))
      }
    },
    floats: () => {
      if (f32.buffer.byteLength !== storage.memory.buffer.byteLength) f32 = new Float32Array(storage.memory.buffer)
      return f32
    },
    doubles: () => {
      if (f64.buffer.byteLength !== storage.memory.buffer.byteLength) f64 = new Float64Array(storage.memory.buffer)
      return f64
    }
  }
}
