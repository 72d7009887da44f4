import type { FloatArray } from "../../tensor/tensor.ts"
import * as check from "../checks.ts"

// Elementwise kernels read each operand before writing the output index, so out may alias inputs.

export const add = (a: FloatArray, b: FloatArray, out: FloatArray): void => {
  check.add(a, b, out)
  const n = out.length
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i]
}

export const mul = (a: FloatArray, b: FloatArray, out: FloatArray): void => {
  check.mul(a, b, out)
  const n = out.length
  for (let i = 0; i < n; i++) out[i] = a[i] * b[i]
}

export const scale = (x: FloatArray, s: number, out: FloatArray): void => {
  check.scale(x, out)
  const n = out.length
  for (let i = 0; i < n; i++) out[i] = s * x[i]
}

export const addInPlace = (dst: FloatArray, src: FloatArray): void => {
  check.addInPlace(dst, src)
  const n = dst.length
  for (let i = 0; i < n; i++) dst[i] += src[i]
}

export const silu = (x: FloatArray, out: FloatArray): void => {
  check.silu(x, out)
  const n = out.length
  for (let i = 0; i < n; i++) {
    const v = x[i]
    out[i] = v / (1 + Math.exp(-v))
  }
}

/** `silu'(x) = σ(x)·(1 + x·(1 − σ(x)))`. */
export const siluBackward = (x: FloatArray, dy: FloatArray, dx: FloatArray, accumulate: boolean): void => {
  check.siluBackward(x, dy, dx)
  const n = dx.length
  for (let i = 0; i < n; i++) {
    const v = x[i]
    const s = 1 / (1 + Math.exp(-v))
    const g = dy[i] * s * (1 + v * (1 - s))
    dx[i] = accumulate ? dx[i] + g : g
  }
}
