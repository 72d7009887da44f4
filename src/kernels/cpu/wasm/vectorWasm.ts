import { instantiate } from "./instance.ts"
import { makeOperandHeap, type OperandHeap, operandsFit } from "./operandHeap.ts"
import { makeWasmStorage } from "./storage.ts"
import { vectorWasmBase64 } from "./vectorWasm.generated.ts"

/**
 * Float32 elementwise and row kernels on the WebAssembly SIMD module of vector.wat (see there
 * for the methods and accuracy), on operands in the kernels instance's memory (see
 * operandHeap.ts: tensors of the storage in place, others copied in and out). Callers check
 * lengths (`checks.ts`), that row lengths are multiples of 4 where required, and `wasmVectorFits`.
 */

type Ptr = number
interface VectorExports {
  readonly add: (a: Ptr, b: Ptr, out: Ptr, n: number) => void
  readonly mul: (a: Ptr, b: Ptr, out: Ptr, n: number) => void
  readonly silu: (x: Ptr, out: Ptr, n: number) => void
  readonly siluBackward: (x: Ptr, dy: Ptr, dx: Ptr, n: number, acc: number) => void
  readonly rmsnorm: (x: Ptr, w: Ptr, out: Ptr, rstd: Ptr, rows: number, dim: number, eps: number) => void
  readonly rmsnormBackward: (
    x: Ptr,
    w: Ptr,
    rstd: Ptr,
    dy: Ptr,
    dx: Ptr,
    dw: Ptr,
    rows: number,
    dim: number,
    acc: number
  ) => void
  readonly flashForward: (
    q: Ptr,
    k: Ptr,
    v: Ptr,
    out: Ptr,
    m: Ptr,
    l: Ptr,
    kt: Ptr,
    tile: Ptr,
    B: number,
    T: number,
    H: number,
    hd: number,
    scale: number
  ) => void
  readonly flashBackward: (
    q: Ptr,
    k: Ptr,
    v: Ptr,
    o: Ptr,
    dO: Ptr,
    lse: Ptr,
    dq: Ptr,
    dk: Ptr,
    dv: Ptr,
    kt: Ptr,
    vt: Ptr,
    dd: Ptr,
    tile: Ptr,
    B: number,
    T: number,
    H: number,
    hd: number,
    scale: number
  ) => void
  readonly softmaxRows: (logits: Ptr, dLogits: Ptr, stats: Ptr, rows: number, vocab: number, gradScale: number) => void
  readonly scale: (x: Ptr, out: Ptr, n: number, s: number) => void
  readonly rope: (
    x: Ptr,
    out: Ptr,
    cos: Ptr,
    sin: Ptr,
    rows: number,
    T: number,
    H: number,
    hd: number,
    inverse: number
  ) => void
}

/** Whether operands of these float counts fit the module's 32-bit addressing. */
export const wasmVectorFits = operandsFit

/**
 * Whether the fused attention kernel takes these sizes: whole tiles of 4 query rows × 8 keys and
 * whole vectors of a head, and the backward's working set (8 operands, kᵀ and vᵀ) addressable.
 */
export const flashAttentionFits = (B: number, T: number, H: number, hd: number): boolean => {
  const n = B * T * H * hd
  return T % 8 === 0 && hd % 4 === 0 &&
    wasmVectorFits(n, n, n, n, n, B * H * T, n, n, n, hd * T, hd * T, T, 64 + 16 * hd)
}

export interface WasmVector {
  add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void
  mul(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void
  /** `out = s·x`, the product in double rounded once (elementwise.ts's bits). */
  scale(x: Float32Array, s: number, out: Float32Array, n: number): void
  /**
   * RoPE of rope.ts (its bits) over `rows` rows of H heads of hd floats (hd a multiple of 4), with
   * that kernel's float64 tables for (T, hd, θ).
   */
  rope(
    x: Float32Array,
    out: Float32Array,
    rows: number,
    T: number,
    H: number,
    hd: number,
    cos: Float64Array,
    sin: Float64Array,
    inverse: boolean
  ): void
  silu(x: Float32Array, out: Float32Array, n: number): void
  siluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number, accumulate: boolean): void
  /** dim a multiple of 4. */
  rmsnorm(
    x: Float32Array,
    w: Float32Array,
    out: Float32Array,
    rstd: Float32Array,
    rows: number,
    dim: number,
    eps: number
  ): void
  /** dim a multiple of 4. */
  rmsnormBackward(
    x: Float32Array,
    w: Float32Array,
    rstd: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    dw: Float32Array,
    rows: number,
    dim: number,
    accumulate: boolean
  ): void
  /**
   * Fused causal attention over [B, T, H, hd] operands (T a multiple of 8, hd of 4; see
   * `flashAttentionFits`): writes out and the per-row log-sum-exp `lse` ([B, H, T]) of the
   * scores scaled by 1/√hd.
   */
  flashForward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    lse: Float32Array,
    out: Float32Array,
    B: number,
    T: number,
    H: number,
    hd: number
  ): void
  /** Its backward from out and lse, probabilities recomputed; overwrites dq, dk, dv. */
  flashBackward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    dOut: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    B: number,
    T: number,
    H: number,
    hd: number
  ): void
  /** vocab a multiple of 4; targets already checked. Returns the float64 sum of row losses. */
  crossEntropy(
    logits: Float32Array,
    targets: Int32Array,
    dLogits: Float32Array,
    rows: number,
    vocab: number,
    gradScale: number
  ): number
}

/** A vector-kernel instance over `heap`'s memory. */
export const makeWasmVector = (heap: OperandHeap = makeOperandHeap(makeWasmStorage())): WasmVector => {
  const k = instantiate(vectorWasmBase64, heap.storage.memory) as unknown as VectorExports
  // The same exports under a name the attention calls' k operand does not shadow.
  const fused = k
  const { begin, doubles, finish, floats, inout, input, output, place, scratch } = heap

  const binary = (op: VectorExports["add"]) => (a: Float32Array, b: Float32Array, out: Float32Array, n: number) => {
    begin()
    input(a, n)
    input(b, n)
    output(out, n)
    const [pa, pb, po] = place(true)
    op(pa!, pb!, po!, n)
    finish()
  }

  // The RoPE tables, copied into the storage once per table (the caller caches them per (T, hd, θ)).
  const residentTables = new WeakMap<Float64Array, Float32Array>()
  const resident = (table: Float64Array): Float32Array => {
    let copy = residentTables.get(table)
    if (copy === undefined) {
      copy = heap.storage.allocate(2 * table.length)
      new Float64Array(copy.buffer, copy.byteOffset, table.length).set(table)
      residentTables.set(table, copy)
    }
    return copy
  }

  return {
    add: binary(k.add),
    mul: binary(k.mul),
    scale: (x, s, out, n) => {
      begin()
      input(x, n)
      output(out, n)
      const [px, po] = place(true)
      k.scale(px!, po!, n, s)
      finish()
    },
    rope: (x, out, rows, T, H, hd, cos, sin, inverse) => {
      const n = rows * H * hd
      const c = resident(cos)
      const sn = resident(sin)
      begin()
      input(x, n)
      output(out, n)
      input(c, c.length)
      input(sn, sn.length)
      const [px, po, pc, ps] = place(true)
      k.rope(px!, po!, pc!, ps!, rows, T, H, hd, inverse ? 1 : 0)
      finish()
    },
    silu: (x, out, n) => {
      begin()
      input(x, n)
      output(out, n)
      const [px, po] = place(true)
      k.silu(px!, po!, n)
      finish()
    },
    siluBackward: (x, dy, dx, n, accumulate) => {
      begin()
      input(x, n)
      input(dy, n)
      if (accumulate) inout(dx, n)
      else output(dx, n)
      const [px, pdy, pdx] = place(true)
      k.siluBackward(px!, pdy!, pdx!, n, accumulate ? 1 : 0)
      finish()
    },
    rmsnorm: (x, w, out, rstd, rows, dim, eps) => {
      begin()
      input(x, rows * dim)
      input(w, dim)
      output(out, rows * dim)
      output(rstd, rows)
      const [px, pw, po, pr] = place(false)
      k.rmsnorm(px!, pw!, po!, pr!, rows, dim, eps)
      finish()
    },
    rmsnormBackward: (x, w, rstd, dy, dx, dw, rows, dim, accumulate) => {
      const n = rows * dim
      begin()
      input(x, n)
      input(w, dim)
      input(rstd, rows)
      input(dy, n)
      if (accumulate) inout(dx, n)
      else output(dx, n)
      inout(dw, dim)
      const [px, pw, pr, pdy, pdx, pdw] = place(false)
      k.rmsnormBackward(px!, pw!, pr!, pdy!, pdx!, pdw!, rows, dim, accumulate ? 1 : 0)
      finish()
    },
    flashForward: (q, k, v, lse, out, B, T, H, hd) => {
      const n = B * T * H * hd
      const rows = B * H * T
      begin()
      input(q, n)
      input(k, n)
      input(v, n)
      output(out, n)
      scratch(rows)
      scratch(rows)
      scratch(hd * T)
      scratch(32)
      const [pq, pk, pv, po, pm, pl, pkt, ptile] = place(false)
      fused.flashForward(pq!, pk!, pv!, po!, pm!, pl!, pkt!, ptile!, B, T, H, hd, 1 / Math.sqrt(hd))
      finish()
      // wasm has no log: the module leaves the running max and sum, lse = m + log l is formed here.
      const memory = floats()
      const m0 = pm! / 4
      const l0 = pl! / 4
      for (let r = 0; r < rows; r++) lse[r] = memory[m0 + r] + Math.log(memory[l0 + r])
    },
    flashBackward: (q, k, v, out, lse, dOut, dq, dk, dv, B, T, H, hd) => {
      const n = B * T * H * hd
      const rows = B * H * T
      begin()
      input(q, n)
      input(k, n)
      input(v, n)
      input(out, n)
      input(dOut, n)
      input(lse, rows)
      output(dq, n)
      output(dk, n)
      output(dv, n)
      scratch(hd * T)
      scratch(hd * T)
      scratch(T)
      scratch(64 + 16 * hd)
      const [pq, pk, pv, po, pdo, plse, pdq, pdk, pdv, pkt, pvt, pdd, ptile] = place(false)
      fused.flashBackward(
        pq!,
        pk!,
        pv!,
        po!,
        pdo!,
        plse!,
        pdq!,
        pdk!,
        pdv!,
        pkt!,
        pvt!,
        pdd!,
        ptile!,
        B,
        T,
        H,
        hd,
        1 / Math.sqrt(hd)
      )
      finish()
    },
    crossEntropy: (logits, targets, dLogits, rows, vocab, gradScale) => {
      const n = rows * vocab
      begin()
      input(logits, n)
      output(dLogits, n)
      // stats holds (max, sum) per row as float64: 4 floats a row, 16-byte aligned.
      scratch(4 * rows)
      const [pl, pd, ps] = place(false)
      k.softmaxRows(pl!, pd!, ps!, rows, vocab, gradScale)
      finish()
      const stats = ps! / 8
      const memory64 = doubles()
      let total = 0
      for (let r = 0; r < rows; r++) {
        const t = targets[r]
        total += memory64[stats + 2 * r] + Math.log(memory64[stats + 2 * r + 1]) - logits[r * vocab + t]
        dLogits[r * vocab + t] -= gradScale
      }
      return total
    }
  }
}
