/**
 * `C[m×n] (+)= op(A)·op(B)` on the device: one thread per output element, a chunked dot product
 * over k. The four transpose variants differ only in how A and B are indexed.
 */
import type { Device, DeviceArray } from "./device.ts"
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

/** The `KernelsShape.matmul` method over float32 arrays: upload, one kernel, one readback. */
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
  const result = matmulOnDevice(dev, da, db, dc, m, n, k, transA, transB)
  dev.lap("compute")
  store.output(c, result, m * n)
  dev.lap("readback")
  dev.end()
}
