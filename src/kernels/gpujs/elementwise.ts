/** Elementwise ops: one thread per element, one kernel per op, one readback. */
import type { Device, DeviceArray } from "./device.ts"

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

const runOp = (dev: Device, op: Op, n: number, ...args: Array<DeviceArray | number>): DeviceArray =>
  dev.run(`${op}:${n}`, () => ({ source: sources[op], output: n, constants: {} }), ...args)

const binary = (op: "add" | "mul") => (dev: Device) => (a: Float32Array, b: Float32Array, out: Float32Array): void => {
  const n = out.length
  dev.begin()
  const da = dev.upload(a)
  const db = dev.upload(b)
  dev.lap("upload")
  const r = runOp(dev, op, n, da, db)
  dev.lap("compute")
  dev.read(r, n, out)
  dev.lap("readback")
}

export const add = binary("add")
export const mul = binary("mul")

export const addInPlace = (dev: Device) => (dst: Float32Array, src: Float32Array): void => add(dev)(dst, src, dst)

export const scale = (dev: Device) => (x: Float32Array, s: number, out: Float32Array): void => {
  const n = out.length
  dev.begin()
  const dx = dev.upload(x)
  dev.lap("upload")
  const r = runOp(dev, "scale", n, dx, s)
  dev.lap("compute")
  dev.read(r, n, out)
  dev.lap("readback")
}

export const silu = (dev: Device) => (x: Float32Array, out: Float32Array): void => {
  const n = out.length
  dev.begin()
  const dx = dev.upload(x)
  dev.lap("upload")
  const r = runOp(dev, "silu", n, dx)
  dev.lap("compute")
  dev.read(r, n, out)
  dev.lap("readback")
}

export const siluBackward = (dev: Device) =>
(x: Float32Array, dy: Float32Array, dx: Float32Array, accumulate: boolean): void => {
  const n = dx.length
  dev.begin()
  const ux = dev.upload(x)
  const udy = dev.upload(dy)
  const udx = accumulate ? dev.upload(dx) : undefined
  dev.lap("upload")
  const r = udx === undefined ? runOp(dev, "siluBackward", n, ux, udy) : runOp(dev, "siluBackwardAcc", n, ux, udy, udx)
  dev.lap("compute")
  dev.read(r, n, dx)
  dev.lap("readback")
}
