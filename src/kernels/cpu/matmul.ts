import type { FloatArray } from "../../tensor/tensor.ts"
import { requireLength } from "./errors.ts"
import { gemm } from "./gemm.ts"

/**
 * `C[m×n] = op(A)·op(B)` (or `C += …`) on dense row-major operands; see gemm.ts for how
 * it is made fast. A is `[m, k]` (`[k, m]` when transA), B is `[k, n]` (`[n, k]` when transB).
 */
export const matmul = (
  a: FloatArray, b: FloatArray, c: FloatArray,
  m: number, n: number, k: number,
  transA: boolean, transB: boolean, accumulate: boolean
): void => {
  requireLength("matmul", "a", a.length, m * k)
  requireLength("matmul", "b", b.length, k * n)
  requireLength("matmul", "c", c.length, m * n)
  if (k === 0) {
    if (!accumulate) c.fill(0, 0, m * n)
    return
  }
  gemm(a, 0, transA ? m : k, transA, b, 0, transB ? k : n, transB, c, 0, n, m, n, k, accumulate, "none")
}
