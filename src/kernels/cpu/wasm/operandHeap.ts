/**
 * The per-call operand area of a wasm module's memory, shared by the vector and parameter
 * modules: a call lays its operands out back to back from offset 0, each at a 16-byte aligned
 * offset and padded to whole f32x4 vectors (so the module's loops never need a scalar tail),
 * copies them in, runs one export and copies the results out. The memory is grown on demand and
 * reused; the typed views follow it when it grows.
 */
import { leading } from "../../leading.ts"
import { ensureBytes, type WasmMemory } from "./instance.ts"

/** Largest working set handed to a module: byte offsets must stay below 2³¹ as i32 arguments. */
const MAX_BYTES = 2 ** 31 - 65536

/** Elements (4 bytes each: floats or int32 ids) rounded up to whole 16-byte vectors. */
const padded = (n: number): number => (n + 3) & ~3

/** Whether operands of these element counts fit a module's 32-bit addressing. */
export const operandsFit = (...counts: ReadonlyArray<number>): boolean =>
  counts.reduce((sum, n) => sum + padded(n), 0) * 4 <= MAX_BYTES

export interface OperandHeap {
  /**
   * Offsets (in 4-byte elements) of operands of these element counts, laid out from 0; grows the
   * memory to fit. The returned array is reused by the next call.
   */
  readonly layout: (...counts: ReadonlyArray<number>) => ReadonlyArray<number>
  /** Copies the first `n` values of `x` to element offset `at`. */
  readonly put: (x: Float32Array, n: number, at: number) => void
  /** Copies `n` values from element offset `at` into `into`. */
  readonly take: (at: number, n: number, into: Float32Array) => void
  /** Copies int32 ids to element offset `at`. */
  readonly putInts: (ids: Int32Array, at: number) => void
  /** The memory as floats, for results read in place (valid until the next `layout`). */
  readonly floats: () => Float32Array
  /** The memory as doubles (offsets in 8-byte elements; valid until the next `layout`). */
  readonly doubles: () => Float64Array
}

export const makeOperandHeap = (memory: WasmMemory): OperandHeap => {
  let f32 = new Float32Array(memory.buffer)
  let f64 = new Float64Array(memory.buffer)
  let i32 = new Int32Array(memory.buffer)
  const offsets: Array<number> = []
  return {
    layout: (...counts) => {
      offsets.length = 0
      let at = 0
      for (const n of counts) {
        offsets.push(at)
        at += padded(n)
      }
      if (ensureBytes(memory, at * 4)) {
        f32 = new Float32Array(memory.buffer)
        f64 = new Float64Array(memory.buffer)
        i32 = new Int32Array(memory.buffer)
      }
      return offsets
    },
    put: (x, n, at) => f32.set(leading(x, n), at),
    take: (at, n, into) => into.set(f32.subarray(at, at + n)),
    putInts: (ids, at) => i32.set(ids, at),
    floats: () => f32,
    doubles: () => f64
  }
}
