import * as check from "../checks.ts"
import type { KernelsShape } from "../KernelsShape.ts"
import { embedding, embeddingBackward } from "./embedding.ts"
import { adamw, sgd } from "./update.ts"
import { makeWasmParams, type WasmParams, wasmParamsFits } from "./wasm/paramsWasm.ts"

type ParamKernels = Pick<KernelsShape, "adamw" | "sgd" | "embedding" | "embeddingBackward">

const f32 = (x: unknown): x is Float32Array => x instanceof Float32Array

/**
 * AdamW, SGD and the embedding of one instance: float32 operands run on the WebAssembly SIMD module
 * (wasm/params.wat, over the instance's storage), which gives the TypeScript kernels' bits exactly;
 * anything else (the float64 of gradient checks), and embeddings whose dimension is not a
 * multiple of 4, on the TypeScript kernels, which stay the reference.
 */
export const makeParamKernels = (wasm: WasmParams = makeWasmParams()): ParamKernels => ({
  adamw: (param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step) => {
    check.adamw(param, grad, m, v)
    const n = param.length
    if (f32(param) && f32(grad) && f32(m) && f32(v) && wasmParamsFits(n, n, n, n)) {
      wasm.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step)
    } else adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step)
  },
  sgd: (param, grad, buf, lr, momentum, nesterov, weightDecay, step) => {
    check.sgd(param, grad, buf)
    const n = param.length
    if (f32(param) && f32(grad) && f32(buf) && wasmParamsFits(n, n, n)) {
      wasm.sgd(param, grad, buf, lr, momentum, nesterov, weightDecay, step)
    } else sgd(param, grad, buf, lr, momentum, nesterov, weightDecay, step)
  },
  embedding: (table, ids, out, dim) => {
    check.embedding(table, ids, out, dim)
    if (f32(table) && f32(out) && dim % 4 === 0 && wasmParamsFits(table.length, ids.length, out.length)) {
      wasm.embedding(table, ids, out, dim)
    } else embedding(table, ids, out, dim)
  },
  embeddingBackward: (dOut, ids, dTable, dim) => {
    check.embeddingBackward(dOut, ids, dTable, dim)
    if (f32(dOut) && f32(dTable) && dim % 4 === 0 && wasmParamsFits(dOut.length, ids.length, dTable.length)) {
      wasm.embeddingBackward(dOut, ids, dTable, dim)
    } else embeddingBackward(dOut, ids, dTable, dim)
  }
})
