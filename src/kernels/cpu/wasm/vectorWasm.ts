import { instantiate } from "./instance.ts"
import { makeOperandHeap, operandsFit } from "./operandHeap.ts"
import { vectorWasmBase64 } from "./vectorWasm.generated.ts"

/**
 * Float32 elementwise and row kernels on the WebAssembly SIMD module of vector.wat (see there
 * for the methods and accuracy; add, mul, scale and RoPE give the TypeScript kernels' bits). Each call copies its operands into the module's memory at
 * 16-byte aligned offsets, runs one export and copies the results back: O(n) copies against
 * O(n) arithmetic, but the arithmetic (exp above all) costs several times the copies. The
 * memory is grown on demand and reused. Callers check lengths (`checks.ts`), that row lengths
 * are multiples of 4 where required, and `wasmVectorFits`.
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
  readonly rope: (x: Ptr, cos: Ptr, sin: Ptr, rows: number, T: number, H: number, hd: number, inverse: number) => void
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

/** A vector-kernel instance with its own module memory. */
export const makeWasmVector = (): WasmVector => {
  const { exports, memory } = instantiate(vectorWasmBase64)
  const k = exports as unknown as VectorExports
  // The same exports under a name the attention calls' k operand does not shadow.
  const fused = k
  const { doubles, floats, layout, put, take } = makeOperandHeap(memory)

  const binary = (op: VectorExports["add"]) => (a: Float32Array, b: Float32Array, out: Float32Array, n: number) => {
    const [pa, pb] = layout(n, n)
    put(a, n, pa)
    put(b, n, pb)
    op(pa * 4, pb * 4, pa * 4, n)
    take(pa, n, out)
  }

  return {
    add: binary(k.add),
    mul: binary(k.mul),
    scale: (x, s, out, n) => {
      const [px] = layout(n)
      put(x, n, px)
      k.scale(px * 4, px * 4, n, s)
      take(px, n, out)
    },
    rope: (x, out, rows, T, H, hd, cos, sin, inverse) => {
      const n = rows * H * hd
      // Each table is T·hd/2 doubles, T·hd floats' worth of bytes; copied per call (they are
      // 2/(B·H) of x's bytes), so the module keeps no state between calls.
      const tableFloats = T * hd
      const [px, pc, ps] = layout(n, tableFloats, tableFloats)
      put(x, n, px)
      const heap64 = doubles()
      heap64.set(cos.subarray(0, tableFloats / 2), pc / 2)
      heap64.set(sin.subarray(0, tableFloats / 2), ps / 2)
      k.rope(px * 4, pc * 4, ps * 4, rows, T, H, hd, inverse ? 1 : 0)
      take(px, n, out)
    },
    silu: (x, out, n) => {
      const [px] = layout(n)
      put(x, n, px)
      k.silu(px * 4, px * 4, n)
      take(px, n, out)
    },
    siluBackward: (x, dy, dx, n, accumulate) => {
      const [px, pdy, pdx] = layout(n, n, accumulate ? n : 0)
      put(x, n, px)
      put(dy, n, pdy)
      // Without accumulation the result overwrites x's copy, which is read before it is written.
      const out = accumulate ? pdx : px
      if (accumulate) put(dx, n, pdx)
      k.siluBackward(px * 4, pdy * 4, out * 4, n, accumulate ? 1 : 0)
      take(out, n, dx)
    },
    rmsnorm: (x, w, out, rstd, rows, dim, eps) => {
      const [px, pw, pout, pr] = layout(rows * dim, dim, rows * dim, rows)
      put(x, rows * dim, px)
      put(w, dim, pw)
      k.rmsnorm(px * 4, pw * 4, pout * 4, pr * 4, rows, dim, eps)
      take(pout, rows * dim, out)
      take(pr, rows, rstd)
    },
    rmsnormBackward: (x, w, rstd, dy, dx, dw, rows, dim, accumulate) => {
      const n = rows * dim
      const [px, pw, pr, pdy, pdx, pdw] = layout(n, dim, rows, n, n, dim)
      put(x, n, px)
      put(w, dim, pw)
      put(rstd, rows, pr)
      put(dy, n, pdy)
      if (accumulate) put(dx, n, pdx)
      put(dw, dim, pdw)
      k.rmsnormBackward(px * 4, pw * 4, pr * 4, pdy * 4, pdx * 4, pdw * 4, rows, dim, accumulate ? 1 : 0)
      take(pdx, n, dx)
      take(pdw, dim, dw)
    },
    flashForward: (q, k, v, lse, out, B, T, H, hd) => {
      const n = B * T * H * hd
      const rows = B * H * T
      const [pq, pk, pv, po, pm, pl, pkt, ptile] = layout(n, n, n, n, rows, rows, hd * T, 32)
      put(q, n, pq)
      put(k, n, pk)
      put(v, n, pv)
      fused.flashForward(
        pq * 4,
        pk * 4,
        pv * 4,
        po * 4,
        pm * 4,
        pl * 4,
        pkt * 4,
        ptile * 4,
        B,
        T,
        H,
        hd,
        1 / Math.sqrt(hd)
      )
      take(po, n, out)
      // wasm has no log: the module leaves the running max and sum, lse = m + log l is formed here.
      const heap = floats()
      for (let r = 0; r < rows; r++) lse[r] = heap[pm + r] + Math.log(heap[pl + r])
    },
    flashBackward: (q, k, v, out, lse, dOut, dq, dk, dv, B, T, H, hd) => {
      const n = B * T * H * hd
      const rows = B * H * T
      const [pq, pk, pv, po, pdo, plse, pdq, pdk, pdv, pkt, pvt, pdd, ptile] = layout(
        n,
        n,
        n,
        n,
        n,
        rows,
        n,
        n,
        n,
        hd * T,
        hd * T,
        T,
        64 + 16 * hd
      )
      put(q, n, pq)
      put(k, n, pk)
      put(v, n, pv)
      put(out, n, po)
      put(dOut, n, pdo)
      put(lse, rows, plse)
      fused.flashBackward(
        pq * 4,
        pk * 4,
        pv * 4,
        po * 4,
        pdo * 4,
        plse * 4,
        pdq * 4,
        pdk * 4,
        pdv * 4,
        pkt * 4,
        pvt * 4,
        pdd * 4,
        ptile * 4,
        B,
        T,
        H,
        hd,
        1 / Math.sqrt(hd)
      )
      take(pdq, n, dq)
      take(pdk, n, dk)
      take(pdv, n, dv)
    },
    crossEntropy: (logits, targets, dLogits, rows, vocab, gradScale) => {
      const n = rows * vocab
      // stats holds (max, sum) per row as float64: 4 floats a row, 16-byte aligned.
      const [pl, pd, ps] = layout(n, n, 4 * rows)
      put(logits, n, pl)
      k.softmaxRows(pl * 4, pd * 4, ps * 4, rows, vocab, gradScale)
      take(pd, n, dLogits)
      const stats = ps / 2
      const heap64 = doubles()
      let total = 0
      for (let r = 0; r < rows; r++) {
        const t = targets[r]
        total += heap64[stats + 2 * r] + Math.log(heap64[stats + 2 * r + 1]) - logits[r * vocab + t]
        dLogits[r * vocab + t] -= gradScale
      }
      return total
    }
  }
}
