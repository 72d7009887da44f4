/** Elementwise ops: one thread per element, one kernel per op, one readback. */
import type { Device } from "./device.ts"

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
const runOp = (dev: Device, op: Op, out: Float32Array, args: ReadonlyArray<Float32Array | number>): void => {
  const n = out.length
  dev.begin()
  const uploaded = args.map((x) => typeof x === "number" ? x : dev.upload(x, n))
  dev.lap("upload")
  const r = dev.run(`${op}:${n}`, () => ({ source: sources[op], output: n, constants: {} }), ...uploaded)
  dev.lap("compute")
  dev.read(r, n, out)
  dev.lap("readback")
}

export const add = (dev: Device) => (a: Float32Array, b: Float32Array, out: Float32Array): void =>
  runOp(dev, "add", out, [a, b])

export const mul = (dev: Device) => (a: Float32Array, b: Float32Array, out: Float32Array): void =>
  runOp(dev, "mul", out, [a, b])

export const addInPlace = (dev: Device) => (dst: Float32Array, src: Float32Array): void =>
  runOp(dev, "add", dst, [dst, src])

export const scale = (dev: Device) => (x: Float32Array, s: number, out: Float32Array): void =>
  runOp(dev, "scale", out, [x, s])

export const silu = (dev: Device) => (x: Float32Array, out: Float32Array): void => runOp(dev, "silu", out, [x])

export const siluBackward =
  (dev: Device) => (x: Float32Array, dy: Float32Array, dx: Float32Array, accumulate: boolean): void =>
    accumulate ? runOp(dev, "siluBackwardAcc", dx, [x, dy, dx]) : runOp(dev, "siluBackward", dx, [x, dy])
