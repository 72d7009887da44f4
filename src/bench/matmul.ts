/**
 * cpu matmul throughput (GFLOP/s, 2·m·n·k flops per call): square sizes for every transpose
 * combination, a plain i-k-j loop for reference, and the shapes of the default and mid-t128
 * models' linear layers with their two backward products. Each row is the best of several timed batches
 * (the machine is shared, so the best batch is the least disturbed one).
 *
 * "backend" is what the cpu backend's `matmul` runs: the WebAssembly SIMD kernel for float32 operands,
 * the TypeScript kernel (gemm.ts, float64 accumulation) for float64. "TypeScript" runs gemm.ts on
 * the same operands, so the float32 table shows what the WebAssembly kernel gains. The caption says
 * which build of the WebAssembly kernel ran: plain SIMD, or fused multiply-add where the runtime
 * has relaxed SIMD (Node 20: `node --experimental-wasm-relaxed-simd bin/continuum bench matmul`).
 *
 *   continuum bench matmul [--dtype=f64]
 */
import { makeGemm } from "../kernels/cpu/gemm.ts"
import { makeCpuKernels } from "../kernels/cpu/index.ts"
import { defaultMatmulVariant } from "../kernels/cpu/wasm/matmulWasm.ts"
import { uniform } from "../tensor/rng.ts"
import { allocate, type DType, type FloatArray } from "../tensor/tensor.ts"
import { timeSync } from "./timing.ts"

export type MatmulRow = Record<string, string | number>

/** The table of products for operands of `dtype`; the caption says what "backend" runs. */
export const runMatmulBench = (dtype: DType): { readonly caption: string; readonly rows: ReadonlyArray<MatmulRow> } => {
  const k = makeCpuKernels()
  const gemm = makeGemm()
  const filled = (n: number, stream: number): FloatArray => {
    const x = allocate(dtype, n)
    for (let i = 0; i < n; i++) x[i] = uniform(3, stream, i) - 0.5
    return x
  }

  type Product = (a: FloatArray, b: FloatArray, c: FloatArray) => void

  const gflops = (m: number, n: number, kk: number, run: Product): number => {
    const a = filled(m * kk, 1)
    const b = filled(kk * n, 2)
    const c = allocate(dtype, m * n)
    const flops = 2 * m * n * kk
    const reps = Math.max(2, Math.ceil(2e7 / flops))
    // A sample is one batch (the mean call in it); the best batch is the least disturbed one.
    const best = timeSync(() => {
      const t0 = performance.now()
      for (let i = 0; i < reps; i++) run(a, b, c)
      return { overriddenDuration: (performance.now() - t0) / reps }
    }, { iterations: 7, warmupIterations: 1 }).min
    return flops / (best * 1e6)
  }

  /** The textbook cache-friendly loop, as the baseline the tiled kernel is measured against. */
  const ikj = (m: number, n: number, kk: number): Product => (a, b, c) => {
    c.fill(0)
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < kk; p++) {
        const x = a[i * kk + p]
        for (let j = 0; j < n; j++) c[i * n + j] += x * b[p * n + j]
      }
    }
  }

  const mm = (m: number, n: number, kk: number, ta: boolean, tb: boolean): Product => (a, b, c) =>
    k.matmul(a, b, c, m, n, kk, ta, tb, false)

  /** The TypeScript kernel directly, whatever the dtype. */
  const ts = (m: number, n: number, kk: number, ta: boolean, tb: boolean): Product => (a, b, c) =>
    gemm(a, 0, ta ? m : kk, ta, b, 0, tb ? kk : n, tb, c, 0, n, m, n, kk, false, "none")

  const rows: Array<MatmulRow> = []
  const round = (x: number): number => +x.toFixed(2)
  /** One row; `typescript`, when given, is timed too (for float64 the backend already is gemm.ts). */
  const add = (shape: string, op: string, m: number, n: number, kk: number, run: Product, typescript?: Product) => {
    const backend = gflops(m, n, kk, run)
    const row: Record<string, string | number> = { shape, op, "backend GFLOP/s": round(backend) }
    if (typescript !== undefined && dtype === "f32") {
      const base = gflops(m, n, kk, typescript)
      row["TypeScript GFLOP/s"] = round(base)
      row.speedup = round(backend / base)
    }
    rows.push(row)
  }
  const both = (
    m: number,
    n: number,
    kk: number,
    ta: boolean,
    tb: boolean
  ): [Product, Product] => [mm(m, n, kk, ta, tb), ts(m, n, kk, ta, tb)]

  for (const s of [64, 128, 256, 512]) {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      add(`${s}×${s}×${s}`, `${ta ? "T" : "N"}${tb ? "T" : "N"}`, s, s, s, ...both(s, s, s, ta, tb))
    }
    if (s <= 256) add(`${s}×${s}×${s}`, "i-k-j loop", s, s, s, ikj(s, s, s))
  }

  // The linear layers of the default model (B·T = 16·64 = 1024 rows, d = 64, f = 176, V = 256) and
  // of mid-t128 (B·T = 16·128 = 2048 rows, d = 128, f = 352): y = x·Wᵀ, dx = dy·W, dW = dyᵀ·x.
  const models = [
    { rows: 1024, layers: [[64, 64, "wq/wk/wv/wo"], [176, 64, "w1/w3"], [64, 176, "w2"], [256, 64, "output"]] },
    {
      rows: 2048,
      layers: [[128, 128, "mid wq/wk/wv/wo"], [352, 128, "mid w1/w3"], [128, 352, "mid w2"], [256, 128, "mid output"]]
    }
  ] as const
  for (const { layers, rows: N } of models) {
    for (const [out, inF, name] of layers) {
      add(`[${N}×${inF}]·[${out}×${inF}]ᵀ`, `${name} forward`, N, out, inF, ...both(N, out, inF, false, true))
      add(`[${N}×${out}]·[${out}×${inF}]`, `${name} dx`, N, inF, out, ...both(N, inF, out, false, false))
      add(`[${N}×${out}]ᵀ·[${N}×${inF}]`, `${name} dW`, out, inF, N, ...both(out, inF, N, true, false))
    }
  }

  const caption = dtype === "f32"
    ? `cpu matmul, f32 operands: backend = WebAssembly SIMD, ${
      defaultMatmulVariant === "fma" ? "fused multiply-add (relaxed SIMD)" : "mul + add (plain SIMD)"
    }, float32 accumulation; TypeScript = gemm.ts (float64 accumulation)`
    : "cpu matmul, f64 operands: backend = TypeScript gemm.ts (float64 accumulation)"
  return { caption, rows }
}
