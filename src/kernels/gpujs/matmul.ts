/**
 * `C[m×n] (+)= op(A)·op(B)` on the device: one thread per output element, a chunked dot product
 * over k. The four transpose variants differ only in how A and B are indexed.
 */
import type { Device, DeviceArray } from "./device.ts"
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
export const matmul = (dev: Device) =>
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
  const da = dev.upload(a, m * k)
  const db = dev.upload(b, k * n)
  const dc = accumulate ? dev.upload(c, m * n) : undefined
  dev.lap("upload")
  const result = matmulOnDevice(dev, da, db, dc, m, n, k, transA, transB)
  dev.lap("compute")
  dev.read(result, m * n, c)
  dev.lap("readback")
}
