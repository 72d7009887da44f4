import * as check from "../checks.ts"
import type { KernelsShape } from "../KernelsShape.ts"
import type { Gemm } from "./gemm.ts"
import { type WasmMatmul, wasmMatmulFits } from "./wasm/matmulWasm.ts"

/**
 * `C[m×n] = op(A)·op(B)` (or `C += …`) on dense row-major operands. A is `[m, k]` (`[k, m]` when
 * transA), B is `[k, n]` (`[n, k]` when transB).
 *
 * Float32 operands (training) run on the WebAssembly SIMD kernel (wasm/matmul.wat, ≈9× faster,
 * float32 accumulation in blocks; its fused multiply-add build where relaxed SIMD validates); anything else, notably the float64 of gradient checks, runs on
 * the TypeScript kernel of gemm.ts, which accumulates in float64. Both are deterministic.
 */
export const makeMatmul =
  (gemm: Gemm, wasm: WasmMatmul): KernelsShape["matmul"] => (a, b, c, m, n, k, transA, transB, accumulate) => {
    check.matmul(a, b, c, m, n, k)
    if (k === 0) {
      if (!accumulate) c.fill(0, 0, m * n)
      return
    }
    if (
      a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array && wasmMatmulFits(m, n, k)
    ) {
      wasm(a, b, c, m, n, k, transA, transB, accumulate)
      return
    }
    gemm(a, 0, transA ? m : k, transA, b, 0, transB ? k : n, transB, c, 0, n, m, n, k, accumulate, "none")
  }
