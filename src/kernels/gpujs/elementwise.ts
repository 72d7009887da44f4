/** Elementwise ops: one thread per element, one kernel per op; the result stays with its tensor (residency.ts). */
import type { Device } from "./device.ts"
import type { GpujsStorage } from "./residency.ts"

const sources = {
  add: "function (a, b) { return a[this.thread.x] + b[this.thread.x]; }",
  mul: "function (a, b) { return a[this.thread.x] * b[this.thread.x]; }",
  scale: "function (x, s) { return x[this.thread.x] * s; }",
  silu: `function (x) {
  const v = x[this.thread.x];
  return v / (1 + Math.exp(-v));
}`,
  siluBackward: `function (x, dy) {
  const v = x[this.thread.x];
  const s = 1 / (1 + Math.exp(-v));
  return dy[this.thread.x] * s * (1 + v * (1 - s));
}`,
  siluBackwardAcc: `function (x, dy, dxIn) {
  const v = x[this.thread.x];
  const s = 1 / (1 + Math.exp(-v));
  return dxIn[this.thread.x] + dy[this.thread.x] * s * (1 + v * (1 - s));
}`
} as const

type Op = keyof typeof sources

/**
 * Runs `op` over the first `out.length` values of its array arguments (numbers are passed as
 * uniforms) and writes the result into `out`. Arguments are uploaded in order.
 */
const runOp = (
  dev: Device,
  store: GpujsStorage,
  op: Op,
  out: Float32Array,
  args: ReadonlyArray<Float32Array | number>
): void => {
  const n = out.length
  dev.begin()
  const uploaded = args.map((x) => typeof x === "number" ? x : store.input(x, n))
  dev.lap("upload")
  const r = dev.run(`${op}:${n}`, () => ({ source: sources[op], output: n, constants: {} }), ...uploaded)
  dev.lap("compute")
  store.output(out, r, n)
  dev.lap("readback")
  dev.end()
}

export const add = (dev: Device, store: GpujsStorage) => (a: Float32Array, b: Float32Array, out: Float32Array): void =>
  runOp(dev, store, "add", out, [a, b])

export const mul = (dev: Device, store: GpujsStorage) => (a: Float32Array, b: Float32Array, out: Float32Array): void =>
  runOp(dev, store, "mul", out, [a, b])

export const addInPlace = (dev: Device, store: GpujsStorage) => (dst: Float32Array, src: Float32Array): void =>
  runOp(dev, store, "add", dst, [dst, src])

export const scale = (dev: Device, store: GpujsStorage) => (x: Float32Array, s: number, out: Float32Array): void =>
  runOp(dev, store, "scale", out, [x, s])

export const silu = (dev: Device, store: GpujsStorage) => (x: Float32Array, out: Float32Array): void =>
  runOp(dev, store, "silu", out, [x])

export const siluBackward =
  (dev: Device, store: GpujsStorage) =>
  (x: Float32Array, dy: Float32Array, dx: Float32Array, accumulate: boolean): void =>
    accumulate ? runOp(dev, store, "siluBackwardAcc", dx, [x, dy, dx]) : runOp(dev, store, "siluBackward", dx, [x, dy])
