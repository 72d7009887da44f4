import type { FloatArray } from "../../tensor/tensor.ts"
import { requireLength } from "./errors.ts"

// Elementwise kernels read each operand before writing the output index, so out may alias inputs.

export const add = (a: FloatArray, b: FloatArray, out: FloatArray): void => {
  const n = out.length
  requireLength("add", "a", a.length, n)
  requireLength("add", "b", b.length, n)
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i]
}

export const mul = (a: FloatArray, b: FloatArray, out: FloatArray): void => {
  const n = out.length
  requireLength("mul", "a", a.length, n)
  requireLength("mul", "b", b.length, n)
  for (let i = 0; i < n; i++) out[i] = a[i] * b[i]
}

export const scale = (x: FloatArray, s: number, out: FloatArray): void => {
  const n = out.length
  requireLength("scale", "x", x.length, n)
  for (let i = 0; i < n; i++) out[i] = s * x[i]
}

export const addInPlace = (dst: FloatArray, src: FloatArray): void => {
  const n = dst.length
  requireLength("addInPlace", "src", src.length, n)
  for (let i = 0; i < n; i++) dst[i] += src[i]
}

export const silu = (x: FloatArray, out: FloatArray): void => {
  const n = out.length
  requireLength("silu", "x", x.length, n)
  for (let i = 0; i < n; i++) {
    const v = x[i]
    out[i] = v / (1 + Math.exp(-v))
  }
}

/** `silu'(x) = σ(x)·(1 + x·(1 − σ(x)))`. */
export const siluBackward = (x: FloatArray, dy: FloatArray, dx: FloatArray, accumulate: boolean): void => {
  const n = dx.length
  requireLength("siluBackward", "x", x.length, n)
  requireLength("siluBackward", "dy", dy.length, n)
  for (let i = 0; i < n; i++) {
    const v = x[i]
    const s = 1 / (1 + Math.exp(-v))
    const g = dy[i] * s * (1 + v * (1 - s))
    dx[i] = accumulate ? dx[i] + g : g
  }
}
