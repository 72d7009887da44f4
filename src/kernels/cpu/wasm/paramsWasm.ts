import { instantiate } from "./instance.ts"
import { makeOperandHeap, type OperandHeap, operandsFit } from "./operandHeap.ts"
import { paramsWasmBase64 } from "./paramsWasm.generated.ts"
import { makeWasmStorage } from "./storage.ts"

/**
 * Float32 AdamW, SGD and the embedding's gather and scatter-add on the WebAssembly SIMD module
 * of params.wat (see there: all give the TypeScript kernels' bits exactly), on operands in the
 * kernels instance's memory (see operandHeap.ts). Callers check lengths and indices
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

/** A parameter-kernel instance over `heap`'s memory. */
export const makeWasmParams = (heap: OperandHeap = makeOperandHeap(makeWasmStorage())): WasmParams => {
  const k = instantiate(paramsWasmBase64, heap.storage.memory) as unknown as ParamsExports
  const { begin, finish, inout, input, output, place } = heap

  return {
    adamw: (param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step) => {
      const n = param.length
      begin()
      inout(param, n)
      input(grad, n)
      inout(m, n)
      inout(v, n)
      const [pp, pg, pm, pv] = place(true)
      // The scalars as update.ts computes them, in double.
      const bc1 = 1 - Math.pow(beta1, step)
      const bc2 = 1 - Math.pow(beta2, step)
      k.adamw(pp!, pg!, pm!, pv!, n, lr, beta1, 1 - beta1, beta2, 1 - beta2, eps, weightDecay, bc1, bc2)
      finish()
    },
    sgd: (param, grad, buf, lr, momentum, nesterov, weightDecay, step) => {
      const n = param.length
      // update.ts's branches, decided here: without momentum buf is neither read nor written, and
      // the first step overwrites it without reading it.
      const withMomentum = momentum !== 0
      const first = step <= 1
      begin()
      inout(param, n)
      input(grad, n)
      if (withMomentum && first) output(buf, n)
      else if (withMomentum) inout(buf, n)
      const [pp, pg, pb] = place(true)
      // Without momentum the kernel never touches buf: any offset will do.
      k.sgd(pp!, pg!, pb ?? pp!, n, lr, momentum, weightDecay, withMomentum ? 1 : 0, first ? 1 : 0, nesterov ? 1 : 0)
      finish()
    },
    embedding: (table, ids, out, dim) => {
      const rows = ids.length
      begin()
      input(table, Math.floor(table.length / dim) * dim)
      input(ids, rows)
      output(out, rows * dim)
      const [pt, pi, po] = place(false)
      k.gather(pt!, pi!, po!, rows, dim)
      finish()
    },
    embeddingBackward: (dOut, ids, dTable, dim) => {
      const rows = ids.length
      begin()
      input(dOut, rows * dim)
      input(ids, rows)
      inout(dTable, Math.floor(dTable.length / dim) * dim)
      const [pd, pi, pt] = place(false)
      k.scatterAdd(pd!, pi!, pt!, rows, dim)
      finish()
    }
  }
}
