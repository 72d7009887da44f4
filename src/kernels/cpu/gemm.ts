import type { FloatArray } from "../../tensor/tensor.ts"
import { tile8x8 } from "./microkernel.ts"

/**
 * General strided matrix multiply, `C = op(A)·op(B)` (or `C += …`), with optional use of a
 * triangular structure (for causal attention).
 *
 * Scalar JavaScript cannot vectorise, so speed comes from doing as many multiply-adds per memory
 * access as possible: an 8×8 tile of C lives in 64 local variables while the kernel walks the
 * shared dimension (see microkernel.ts). To make those loads sequential whatever the layout,
 * op(A) and op(B) are first re-laid out ("packed", as in GotoBLAS) into float64 panels:
 * `op(B)` as `[⌈n/8⌉][k][8]` once per call, `op(A)` as `[k][8]` once per block of 8 rows.
 * Packing costs O(mk + kn) against O(mnk) arithmetic, reads each operand in its own storage
 * order (no transposed copy of a matrix is ever made), and turns every transpose combination
 * and stride into the same inner kernel. Ragged edges are zero-padded in the panels and edge
 * tiles are written through a small buffer, so the inner kernel never branches on sizes.
 *
 * Products are accumulated in float64 and rounded once when stored; the summation order is
 * fixed, so results are deterministic. Measured alternatives on this kind of machine: 4×4, 4×8,
 * 6×8, 8×12 and 16×16 tiles, k-blocking (no gain at these sizes), unpacked strided kernels
 * (~15% slower); 8×8 packed was best, ≈4 GFLOP/s against ≈0.8–1.3 for a plain i-k-j loop.
 */

const TILE = 8

/**
 * Which part of the product is needed or non-zero; lets causal attention skip dead work.
 * - "none": a dense product.
 * - "lowerA": op(A) is lower triangular (`op(A)[i, p] = 0` for p > i): row i sums over p ≤ i only.
 * - "upperA": op(A) is upper triangular (`op(A)[i, p] = 0` for p < i): row i sums over p ≥ i only.
 * - "lowerC": only C's lower triangle (j ≤ i) is needed; tiles wholly above the diagonal are
 *   not written (entries above the diagonal inside written tiles hold the dense product).
 */
export type Triangle = "none" | "lowerA" | "upperA" | "lowerC"

/** Packs `op(A)[i0 + r, p]` for r < rows, p0 ≤ p < p1 into `ap[8(p − p0) + r]`, zero-padding rows. */
const packA = (
  ap: Float64Array,
  a: FloatArray,
  aOff: number,
  lda: number,
  transA: boolean,
  i0: number,
  rows: number,
  p0: number,
  p1: number
): void => {
  if (transA && rows === TILE) {
    // A stored [k, m], a full block: the 8 values of one p are contiguous.
    for (let p = p0, src = aOff + p0 * lda + i0, dst = 0; p < p1; p++, src += lda, dst += TILE) {
      ap[dst] = a[src]
      ap[dst + 1] = a[src + 1]
      ap[dst + 2] = a[src + 2]
      ap[dst + 3] = a[src + 3]
      ap[dst + 4] = a[src + 4]
      ap[dst + 5] = a[src + 5]
      ap[dst + 6] = a[src + 6]
      ap[dst + 7] = a[src + 7]
    }
  } else if (transA) {
    // A stored [k, m], a ragged block.
    for (let p = p0, src = aOff + p0 * lda + i0, dst = 0; p < p1; p++, src += lda, dst += TILE) {
      for (let r = 0; r < rows; r++) ap[dst + r] = a[src + r]
      for (let r = rows; r < TILE; r++) ap[dst + r] = 0
    }
  } else if (rows === TILE) {
    // A stored [m, k], a full block: walk the 8 rows side by side so the panel fills in order.
    const s0 = aOff + i0 * lda, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda
    const s4 = s3 + lda, s5 = s4 + lda, s6 = s5 + lda, s7 = s6 + lda
    for (let p = p0, dst = 0; p < p1; p++, dst += TILE) {
      ap[dst] = a[s0 + p]
      ap[dst + 1] = a[s1 + p]
      ap[dst + 2] = a[s2 + p]
      ap[dst + 3] = a[s3 + p]
      ap[dst + 4] = a[s4 + p]
      ap[dst + 5] = a[s5 + p]
      ap[dst + 6] = a[s6 + p]
      ap[dst + 7] = a[s7 + p]
    }
  } else {
    // A stored [m, k], a ragged block: scatter each row with stride 8, zero the missing rows.
    for (let r = 0; r < rows; r++) {
      for (let p = p0, src = aOff + (i0 + r) * lda, dst = r; p < p1; p++, dst += TILE) ap[dst] = a[src + p]
    }
    for (let r = rows; r < TILE; r++) {
      for (let p = p0, dst = r; p < p1; p++, dst += TILE) ap[dst] = 0
    }
  }
}

/** Packs op(B) into `bp[(jb·k + p)·8 + q] = op(B)[p, 8jb + q]`, zero-padding columns. */
const packB = (
  bp: Float64Array,
  b: FloatArray,
  bOff: number,
  ldb: number,
  transB: boolean,
  n: number,
  k: number
): void => {
  for (let j0 = 0, base = 0; j0 < n; j0 += TILE, base += k * TILE) {
    const cols = Math.min(TILE, n - j0)
    if (transB && cols === TILE) {
      // B stored [n, k], a full panel: walk its 8 rows side by side so the panel fills in order.
      const s0 = bOff + j0 * ldb, s1 = s0 + ldb, s2 = s1 + ldb, s3 = s2 + ldb
      const s4 = s3 + ldb, s5 = s4 + ldb, s6 = s5 + ldb, s7 = s6 + ldb
      for (let p = 0, dst = base; p < k; p++, dst += TILE) {
        bp[dst] = b[s0 + p]
        bp[dst + 1] = b[s1 + p]
        bp[dst + 2] = b[s2 + p]
        bp[dst + 3] = b[s3 + p]
        bp[dst + 4] = b[s4 + p]
        bp[dst + 5] = b[s5 + p]
        bp[dst + 6] = b[s6 + p]
        bp[dst + 7] = b[s7 + p]
      }
    } else if (transB) {
      // B stored [n, k], a ragged panel: each column of op(B) is a contiguous row of B.
      for (let q = 0; q < cols; q++) {
        for (let p = 0, src = bOff + (j0 + q) * ldb, dst = base + q; p < k; p++, dst += TILE) bp[dst] = b[src + p]
      }
      for (let q = cols; q < TILE; q++) {
        for (let p = 0, dst = base + q; p < k; p++, dst += TILE) bp[dst] = 0
      }
    } else if (cols === TILE) {
      // B stored [k, n], a full panel: the 8 values of one p are contiguous.
      for (let p = 0, src = bOff + j0, dst = base; p < k; p++, src += ldb, dst += TILE) {
        bp[dst] = b[src]
        bp[dst + 1] = b[src + 1]
        bp[dst + 2] = b[src + 2]
        bp[dst + 3] = b[src + 3]
        bp[dst + 4] = b[src + 4]
        bp[dst + 5] = b[src + 5]
        bp[dst + 6] = b[src + 6]
        bp[dst + 7] = b[src + 7]
      }
    } else {
      // B stored [k, n], a ragged panel.
      for (let p = 0, src = bOff + j0, dst = base; p < k; p++, src += ldb, dst += TILE) {
        for (let q = 0; q < cols; q++) bp[dst + q] = b[src + q]
        for (let q = cols; q < TILE; q++) bp[dst + q] = 0
      }
    }
  }
}

/**
 * `C[cOff + i·ldc + j] (+)= Σ_p op(A)[i, p]·op(B)[p, j]` for i < m, j < n, where
 * `op(A)[i, p] = transA ? a[aOff + p·lda + i] : a[aOff + i·lda + p]` and
 * `op(B)[p, j] = transB ? b[bOff + j·ldb + p] : b[bOff + p·ldb + j]`.
 * Callers guarantee the index ranges are inside the arrays.
 */
export type Gemm = (
  a: FloatArray,
  aOff: number,
  lda: number,
  transA: boolean,
  b: FloatArray,
  bOff: number,
  ldb: number,
  transB: boolean,
  c: FloatArray,
  cOff: number,
  ldc: number,
  m: number,
  n: number,
  k: number,
  accumulate: boolean,
  triangle: Triangle
) => void

/**
 * A gemm with its own packing panels, grown on demand and reused: nothing is allocated per call
 * once warm. Calls on one instance must not overlap (they share the panels).
 */
export const makeGemm = (): Gemm => {
  let packedA = new Float64Array(TILE * 64)
  let packedB = new Float64Array(TILE * 64 * 8)
  const edgeTile = new Float64Array(TILE * TILE)
  return (a, aOff, lda, transA, b, bOff, ldb, transB, c, cOff, ldc, m, n, k, accumulate, triangle) => {
    if (m === 0 || n === 0) return
    const panels = Math.ceil(n / TILE)
    if (packedA.length < k * TILE) packedA = new Float64Array(k * TILE)
    if (packedB.length < panels * k * TILE) packedB = new Float64Array(panels * k * TILE)
    packB(packedB, b, bOff, ldb, transB, n, k)
    for (let i0 = 0; i0 < m; i0 += TILE) {
      const rows = Math.min(TILE, m - i0)
      // The range of the shared dimension that can contribute to these rows.
      const p0 = triangle === "upperA" ? Math.min(i0, k) : 0
      const p1 = triangle === "lowerA" ? Math.min(i0 + rows, k) : k
      const depth = p1 - p0
      packA(packedA, a, aOff, lda, transA, i0, rows, p0, p1)
      // Under LowerC, column tiles starting past the block's last row are wholly above the diagonal.
      const nEnd = triangle === "lowerC" ? Math.min(n, i0 + rows) : n
      for (let j0 = 0, bOff8 = p0 * TILE; j0 < nEnd; j0 += TILE, bOff8 += k * TILE) {
        const cols = Math.min(TILE, n - j0)
        const o = cOff + i0 * ldc + j0
        if (rows === TILE && cols === TILE) {
          tile8x8(packedA, packedB, bOff8, depth, c, o, ldc, accumulate)
        } else {
          tile8x8(packedA, packedB, bOff8, depth, edgeTile, 0, TILE, false)
          for (let r = 0; r < rows; r++) {
            const row = o + r * ldc
            for (let q = 0; q < cols; q++) {
              c[row + q] = accumulate ? c[row + q] + edgeTile[r * TILE + q] : edgeTile[r * TILE + q]
            }
          }
        }
      }
    }
  }
}
