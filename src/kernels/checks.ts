/**
 * The argument checks of every kernel, shared by all backends: one function per kernel of
 * `KernelsShape`, named after it, taking the operands and sizes it needs and throwing a
 * `KernelArgumentError` for the first one that cannot describe the operation. A backend calls
 * the check once on entry, so every backend rejects the same calls with the same error.
 *
 * Arrays may be longer than the sizes demand; elementwise kernels take their length from the
 * output. Checks cost O(1), except for index arrays, whose entries are each checked (once per
 * call, before anything is written).
 */
import type { FloatArray } from "../tensor/tensor.ts"
import { KernelArgumentError } from "./KernelArgumentError.ts"

/** Throws unless `length ≥ needed`. */
const requireLength = (kernel: string, field: string, length: number, needed: number): void => {
  if (length < needed) {
    throw new KernelArgumentError({ kernel, field: `${field}.length`, value: length, expected: `≥ ${needed}` })
  }
}

/** Throws unless each of the first `count` ids is a row of a table with `rows` rows. */
const requireIndices = (kernel: string, field: string, ids: Int32Array, count: number, rows: number): void => {
  for (let r = 0; r < count; r++) {
    const id = ids[r]
    if (!(id >= 0 && id < rows)) {
      throw new KernelArgumentError({ kernel, field: `${field}[${r}]`, value: id, expected: `in [0, ${rows})` })
    }
  }
}

export const matmul = (a: FloatArray, b: FloatArray, c: FloatArray, m: number, n: number, k: number): void => {
  requireLength("matmul", "a", a.length, m * k)
  requireLength("matmul", "b", b.length, k * n)
  requireLength("matmul", "c", c.length, m * n)
}

export const add = (a: FloatArray, b: FloatArray, out: FloatArray): void => {
  requireLength("add", "a", a.length, out.length)
  requireLength("add", "b", b.length, out.length)
}

export const mul = (a: FloatArray, b: FloatArray, out: FloatArray): void => {
  requireLength("mul", "a", a.length, out.length)
  requireLength("mul", "b", b.length, out.length)
}

export const scale = (x: FloatArray, out: FloatArray): void => requireLength("scale", "x", x.length, out.length)

export const addInPlace = (dst: FloatArray, src: FloatArray): void =>
  requireLength("addInPlace", "src", src.length, dst.length)

export const silu = (x: FloatArray, out: FloatArray): void => requireLength("silu", "x", x.length, out.length)

export const siluBackward = (x: FloatArray, dy: FloatArray, dx: FloatArray): void => {
  requireLength("siluBackward", "x", x.length, dx.length)
  requireLength("siluBackward", "dy", dy.length, dx.length)
}

export const rmsnorm = (
  x: FloatArray,
  w: FloatArray,
  out: FloatArray,
  rstd: FloatArray,
  rows: number,
  dim: number
): void => {
  requireLength("rmsnorm", "x", x.length, rows * dim)
  requireLength("rmsnorm", "w", w.length, dim)
  requireLength("rmsnorm", "out", out.length, rows * dim)
  requireLength("rmsnorm", "rstd", rstd.length, rows)
}

export const rmsnormBackward = (
  x: FloatArray,
  w: FloatArray,
  rstd: FloatArray,
  dy: FloatArray,
  dx: FloatArray,
  dw: FloatArray,
  rows: number,
  dim: number
): void => {
  requireLength("rmsnormBackward", "x", x.length, rows * dim)
  requireLength("rmsnormBackward", "w", w.length, dim)
  requireLength("rmsnormBackward", "rstd", rstd.length, rows)
  requireLength("rmsnormBackward", "dy", dy.length, rows * dim)
  requireLength("rmsnormBackward", "dx", dx.length, rows * dim)
  requireLength("rmsnormBackward", "dw", dw.length, dim)
}

export const rope = (x: FloatArray, out: FloatArray, rows: number, H: number, hd: number): void => {
  if (hd % 2 !== 0) {
    throw new KernelArgumentError({ kernel: "rope", field: "hd", value: hd, expected: "an even number" })
  }
  requireLength("rope", "x", x.length, rows * H * hd)
  requireLength("rope", "out", out.length, rows * H * hd)
}

/** Checks q, k, v (`[B, T, H, hd]`) and what attention saves (`savedLength` values); returns the length of one of q, k, v. */
const attentionInputs = (
  kernel: string,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  saved: FloatArray,
  savedLength: number,
  B: number,
  T: number,
  H: number,
  hd: number
): number => {
  const n = B * T * H * hd
  requireLength(kernel, "q", q.length, n)
  requireLength(kernel, "k", k.length, n)
  requireLength(kernel, "v", v.length, n)
  requireLength(kernel, "saved", saved.length, savedLength)
  return n
}

export const attention = (
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  saved: FloatArray,
  savedLength: number,
  out: FloatArray,
  B: number,
  T: number,
  H: number,
  hd: number
): void => {
  const n = attentionInputs("attention", q, k, v, saved, savedLength, B, T, H, hd)
  requireLength("attention", "out", out.length, n)
}

export const attentionBackward = (
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  out: FloatArray,
  saved: FloatArray,
  savedLength: number,
  dOut: FloatArray,
  dq: FloatArray,
  dk: FloatArray,
  dv: FloatArray,
  B: number,
  T: number,
  H: number,
  hd: number
): void => {
  const n = attentionInputs("attentionBackward", q, k, v, saved, savedLength, B, T, H, hd)
  requireLength("attentionBackward", "out", out.length, n)
  requireLength("attentionBackward", "dOut", dOut.length, n)
  requireLength("attentionBackward", "dq", dq.length, n)
  requireLength("attentionBackward", "dk", dk.length, n)
  requireLength("attentionBackward", "dv", dv.length, n)
}

export const embedding = (table: FloatArray, ids: Int32Array, out: FloatArray, dim: number): void => {
  requireLength("embedding", "out", out.length, ids.length * dim)
  requireIndices("embedding", "ids", ids, ids.length, Math.floor(table.length / dim))
}

export const embeddingBackward = (dOut: FloatArray, ids: Int32Array, dTable: FloatArray, dim: number): void => {
  requireLength("embeddingBackward", "dOut", dOut.length, ids.length * dim)
  requireIndices("embeddingBackward", "ids", ids, ids.length, Math.floor(dTable.length / dim))
}

export const crossEntropy = (
  logits: FloatArray,
  targets: Int32Array,
  dLogits: FloatArray,
  rows: number,
  vocab: number
): void => {
  requireLength("crossEntropy", "logits", logits.length, rows * vocab)
  requireLength("crossEntropy", "dLogits", dLogits.length, rows * vocab)
  requireLength("crossEntropy", "targets", targets.length, rows)
  requireIndices("crossEntropy", "targets", targets, rows, vocab)
}

export const softmax = (x: FloatArray, out: FloatArray, rows: number, cols: number): void => {
  requireLength("softmax", "x", x.length, rows * cols)
  requireLength("softmax", "out", out.length, rows * cols)
}

export const adamw = (param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray): void => {
  requireLength("adamw", "grad", grad.length, param.length)
  requireLength("adamw", "m", m.length, param.length)
  requireLength("adamw", "v", v.length, param.length)
}

export const sgd = (param: FloatArray, grad: FloatArray, buf: FloatArray): void => {
  requireLength("sgd", "grad", grad.length, param.length)
  requireLength("sgd", "buf", buf.length, param.length)
}
