import { instantiate } from "./instance.ts"
import { makeOperandHeap, operandsFit } from "./operandHeap.ts"
import { paramsWasmBase64 } from "./paramsWasm.generated.ts"

/**
 * Float32 AdamW, SGD and the embedding's gather and scatter-add on the WebAssembly SIMD module
 * of params.wat (see there: all give the TypeScript kernels' bits exactly). Each call copies its
 * operands into the module's memory at 16-byte aligned offsets, runs one export and copies the
 * results back; the memory is grown on demand and reused. Callers check lengths and indices
 * (`checks.ts`), that the embedding dimension is a multiple of 4, and `wasmParamsFits`.
 */

type Ptr = number
interface ParamsExports {
  readonly adamw: (
    p: Ptr,
    g: Ptr,
    m: Ptr,
    v: Ptr,
    n: number,
    lr: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    eps: number,
    wd: number,
    bc1: number,
    bc2: number
  ) => void
  readonly sgd: (
    p: Ptr,
    g: Ptr,
    b: Ptr,
    n: number,
    lr: number,
    mu: number,
    wd: number,
    momentum: number,
    first: number,
    nesterov: number
  ) => void
  readonly gather: (table: Ptr, ids: Ptr, out: Ptr, rows: number, dim: number) => void
  readonly scatterAdd: (dOut: Ptr, ids: Ptr, dTable: Ptr, rows: number, dim: number) => void
}

/** Whether operands of these element counts (floats or int32 ids) fit the module's 32-bit addressing. */
export const wasmParamsFits = operandsFit

export interface WasmParams {
  /** AdamW of update.ts on float32 arrays of one length. */
  adamw(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number
  ): void
  /** SGD with momentum of update.ts on float32 arrays of one length. */
  sgd(
    param: Float32Array,
    grad: Float32Array,
    buf: Float32Array,
    lr: number,
    momentum: number,
    nesterov: boolean,
    weightDecay: number,
    step: number
  ): void
  /** `out[r] = table[ids[r]]`, rows of dim floats (dim a multiple of 4). */
  embedding(table: Float32Array, ids: Int32Array, out: Float32Array, dim: number): void
  /** `dTable[ids[r]] += dOut[r]` in order of r (dim a multiple of 4). */
  embeddingBackward(dOut: Float32Array, ids: Int32Array, dTable: Float32Array, dim: number): void
}

/** A parameter-kernel instance with its own module memory. */
export const makeWasmParams = (): WasmParams => {
  const { exports, memory } = instantiate(paramsWasmBase64)
  const k = exports as unknown as ParamsExports
  const { layout, put, putInts, take } = makeOperandHeap(memory)

  return {
    adamw: (param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step) => {
      const n = param.length
      const [pp, pg, pm, pv] = layout(n, n, n, n)
      put(param, n, pp)
      put(grad, n, pg)
      put(m, n, pm)
      put(v, n, pv)
      // The scalars as update.ts computes them, in double.
      const bc1 = 1 - Math.pow(beta1, step)
      const bc2 = 1 - Math.pow(beta2, step)
      k.adamw(pp * 4, pg * 4, pm * 4, pv * 4, n, lr, beta1, 1 - beta1, beta2, 1 - beta2, eps, weightDecay, bc1, bc2)
      take(pp, n, param)
      take(pm, n, m)
      take(pv, n, v)
    },
    sgd: (param, grad, buf, lr, momentum, nesterov, weightDecay, step) => {
      const n = param.length
      // update.ts's branches, decided here: without momentum buf is neither read nor written, and
      // the first step overwrites it without reading it.
      const withMomentum = momentum !== 0
      const first = step <= 1
      const [pp, pg, pb] = layout(n, n, withMomentum ? n : 0)
      put(param, n, pp)
      put(grad, n, pg)
      if (withMomentum && !first) put(buf, n, pb)
      k.sgd(pp * 4, pg * 4, pb * 4, n, lr, momentum, weightDecay, withMomentum ? 1 : 0, first ? 1 : 0, nesterov ? 1 : 0)
      take(pp, n, param)
      if (withMomentum) take(pb, n, buf)
    },
    embedding: (table, ids, out, dim) => {
      const rows = ids.length
      const tableFloats = Math.floor(table.length / dim) * dim
      const [pt, pi, po] = layout(tableFloats, rows, rows * dim)
      put(table, tableFloats, pt)
      putInts(ids, pi)
      k.gather(pt * 4, pi * 4, po * 4, rows, dim)
      take(po, rows * dim, out)
    },
    embeddingBackward: (dOut, ids, dTable, dim) => {
      const rows = ids.length
      const tableFloats = Math.floor(dTable.length / dim) * dim
      const [pd, pi, pt] = layout(rows * dim, rows, tableFloats)
      put(dOut, rows * dim, pd)
      putInts(ids, pi)
      put(dTable, tableFloats, pt)
      k.scatterAdd(pd * 4, pi * 4, pt * 4, rows, dim)
      take(pt, tableFloats, dTable)
    }
  }
}
