import { instantiate, validates } from "./instance.ts"
import { matmulRelaxedWasmBase64, matmulWasmBase64 } from "./matmulWasm.generated.ts"
import { makeOperandHeap, type OperandHeap } from "./operandHeap.ts"
import { makeWasmStorage } from "./storage.ts"

/**
 * Float32 matrix multiply on the WebAssembly SIMD kernel of matmul.wat (see there for the
 * method), on operands in the kernels instance's memory (see operandHeap.ts).
 */

type MatmulExport = (
  a: number,
  b: number,
  c: number,
  pa: number,
  pb: number,
  m: number,
  n: number,
  k: number,
  ta: number,
  tb: number,
  acc: number,
  kcMax: number
) => void

/** Rows and columns of the micro-kernel tile, and the blocking of the shared dimension (see matmul.wat). */
const MR = 4
const NR = 8
const KC = 256
/** Largest working set handed to the kernel: byte offsets must stay below 2³¹ as i32 arguments. */
const MAX_BYTES = 2 ** 31 - 65536

/** Float offsets rounded up to 16 bytes, so SIMD loads and stores are aligned. */
const align4 = (floats: number): number => (floats + 3) & ~3

/** The floats of module memory a product of these sizes needs (A, B, padded C, A panel, B panels). */
const floatsNeeded = (m: number, n: number, k: number): number => {
  const npad = Math.ceil(n / NR) * NR
  const mpad = Math.ceil(m / MR) * MR
  const kc = Math.min(k, KC)
  return align4(m * k) + align4(k * n) + align4(mpad * npad) + align4(kc * MR) + kc * npad
}

/** Whether the kernel can take a product of these sizes (its memory is addressed with 32-bit offsets). */
export const wasmMatmulFits = (m: number, n: number, k: number): boolean => floatsNeeded(m, n, k) * 4 <= MAX_BYTES

/**
 * The two builds of matmul.wat: `simd` multiplies and adds in two roundings (plain WebAssembly
 * SIMD, every runtime with SIMD); `fma` fuses them into one (`f32x4.relaxed_madd`, relaxed SIMD:
 * Node 20 accepts it only with `--experimental-wasm-relaxed-simd`, V8 ≥ 11.4 without a flag).
 * The fused build is faster and rounds differently, so a run's trajectory depends on which one ran.
 */
export type MatmulVariant = "simd" | "fma"

/**
 * The build this runtime runs by default: the fused one where the runtime validates its module
 * (relaxed SIMD available), else plain SIMD. Decided once, at load.
 */
export const defaultMatmulVariant: MatmulVariant = validates(matmulRelaxedWasmBase64) ? "fma" : "simd"

/** Whether this runtime can run `variant` (plain SIMD always can). */
export const matmulVariantAvailable = (variant: MatmulVariant): boolean =>
  variant === "simd" || defaultMatmulVariant === "fma"

/** The float32 matmul of `KernelsShape.matmul` on the WebAssembly kernel. */
export type WasmMatmul = (
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  accumulate: boolean
) => void

/**
 * A WebAssembly matmul over `heap`'s memory: `C[m×n] = op(A)·op(B)` (or `C += …` when
 * accumulate) in float32, with the layouts and meaning of `KernelsShape.matmul`. Callers check
 * lengths and that `wasmMatmulFits(m, n, k)`. Summation is in float32, blocked over the shared
 * dimension; the order is fixed, so the same inputs give the same bits on every call. Operands in
 * the storage are used in place (C when it has room for the kernel's padded ⌈m/4⌉·4 × ⌈n/8⌉·8
 * layout); others are copied in and out. The module is compiled and instantiated here,
 * synchronously (the binary is under 2 KB); `variant` must be available (`matmulVariantAvailable`).
 */
export const makeWasmMatmul = (
  variant: MatmulVariant = defaultMatmulVariant,
  heap: OperandHeap = makeOperandHeap(makeWasmStorage())
): WasmMatmul => {
  if (!matmulVariantAvailable(variant)) {
    throw new Error("the fused matmul needs relaxed WebAssembly SIMD (Node 20: --experimental-wasm-relaxed-simd)")
  }
  const exports = instantiate(variant === "fma" ? matmulRelaxedWasmBase64 : matmulWasmBase64, heap.storage.memory)
  const kernel = exports.matmul as MatmulExport
  return (a, b, c, m, n, k, transA, transB, accumulate) => {
    if (m === 0 || n === 0) return
    if (k === 0) {
      if (!accumulate) c.fill(0, 0, m * n)
      return
    }
    const npad = Math.ceil(n / NR) * NR
    const mpad = Math.ceil(m / MR) * MR
    const kc = Math.min(k, KC)
    heap.begin()
    heap.input(a, m * k)
    heap.input(b, k * n)
    if (accumulate) heap.inout(c, m * n, mpad * npad)
    else heap.output(c, m * n, mpad * npad)
    heap.scratch(kc * MR)
    heap.scratch(kc * npad)
    const [pa, pb, pc, panelA, panelB] = heap.place(false)
    kernel(pa!, pb!, pc!, panelA!, panelB!, m, n, k, transA ? 1 : 0, transB ? 1 : 0, accumulate ? 1 : 0, KC)
    heap.finish()
  }
}
