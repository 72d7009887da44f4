/**
 * `C[m×n] (+)= op(A)·op(B)` on the device: one thread per output element, a chunked dot product
 * over k. The four transpose variants differ only in how A and B are indexed.
 *
 * In headless GL the product runs on packed operands: op(A)'s rows and op(B)'s columns are first
 * copied into textures of four consecutive k-values per texel, so the dot product fetches one texel
 * of each for four multiply-adds instead of one value of each per multiply-add. Fetches are what a
 * software rasteriser spends its time on; the two packing passes cost (m + n)·k fetches against the
 * m·n·k/2 they save. (In the webasm and cpu modes there is no texture to fetch from: plain kernel.)
 */
import type { Device, DeviceArray } from "./device.ts"
import { pack, packedDot, strided } from "./pack.ts"
import type { GpujsStorage } from "./residency.ts"
import { chunkedSum, idiv, kernelSource, sumConstants } from "./source.ts"

export const matmulSource = (transA: boolean, transB: boolean, accumulate: boolean): string => {
  const aIndex = transA ? "p * this.constants.M + r" : "r * this.constants.K + p"
  const bIndex = transB ? "c * this.constants.K + p" : "p * this.constants.N + c"
  return kernelSource(
    accumulate ? ["a", "b", "cIn"] : ["a", "b"],
    `
  const i = this.thread.x;
  const r = ${idiv("i", "this.constants.N")};
  const c = i - r * this.constants.N;
  ${chunkedSum({ result: "total", index: "p", bound: "K", term: `a[${aIndex}] * b[${bIndex}]` })}
  return ${accumulate ? "cIn[i] + total" : "total"};`
  )
}

/** Runs the matmul kernel on device arrays; returns the device result (m·n values). */
export const matmulOnDevice = (
  dev: Device,
  a: DeviceArray,
  b: DeviceArray,
  cIn: DeviceArray | undefined,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean
): DeviceArray => {
  const acc = cIn !== undefined
  const key = `matmul:${transA ? "T" : "N"}${transB ? "T" : "N"}${acc ? "+" : ""}:${m}x${n}x${k}`
  const spec = () => ({
    source: matmulSource(transA, transB, acc),
    output: m * n,
    constants: { M: m, N: n, ...sumConstants("K", k) }
  })
  return acc ? dev.run(key, spec, a, b, cIn) : dev.run(key, spec, a, b)
}

/** `C[r, c] (+)= Σ_q ⟨a4[r, q], b4[c, q]⟩` over packed operands, chunked over the texels. */
export const packedMatmulSource = (accumulate: boolean): string =>
  kernelSource(
    accumulate ? ["a4", "b4", "cIn"] : ["a4", "b4"],
    `
  const i = this.thread.x;
  const r = ${idiv("i", "this.constants.N")};
  const c = i - r * this.constants.N;
  ${packedDot("a4", "r * this.constants.KQ", "b4", "c * this.constants.KQ")}
  return ${accumulate ? "cIn[i] + total" : "total"};`
  )

/** Runs the packed product on device arrays (see the module comment); returns the m·n result. */
const packedMatmulOnDevice = (
  dev: Device,
  a: DeviceArray,
  b: DeviceArray,
  cIn: DeviceArray | undefined,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean
): DeviceArray => {
  const kq = Math.ceil(k / 4)
  // op(A)[r, p] = A[r·k + p] or (transA) A[p·m + r]; op(B)[p, c] = B[p·n + c] or (transB) B[c·k + p].
  const a4 = pack(dev, a, m, k, transA ? strided(1, m) : strided(k, 1))
  const b4 = pack(dev, b, n, k, transB ? strided(k, 1) : strided(1, n))
  const acc = cIn !== undefined
  const key = `matmul.packed${acc ? "+" : ""}:${m}x${n}x${k}`
  const spec = () => ({
    source: packedMatmulSource(acc),
    output: m * n,
    constants: { N: n, ...sumConstants("KQ", kq) }
  })
  return acc ? dev.run(key, spec, a4, b4, cIn) : dev.run(key, spec, a4, b4)
}

/** The `KernelsShape.matmul` method over float32 arrays: operands where they live, one product. */
export const matmul = (dev: Device, store: GpujsStorage) =>
(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  accumulate: boolean
): void => {
  dev.begin()
  const da = store.input(a, m * k)
  const db = store.input(b, k * n)
  const dc = accumulate ? store.input(c, m * n) : undefined
  dev.lap("upload")
  const result = dev.resident
    ? packedMatmulOnDevice(dev, da, db, dc, m, n, k, transA, transB)
    : matmulOnDevice(dev, da, db, dc, m, n, k, transA, transB)
  dev.lap("compute")
  store.output(c, result, m * n)
  dev.lap("readback")
  dev.end()
}
