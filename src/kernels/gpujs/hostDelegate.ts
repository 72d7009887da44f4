/**
 * The cpu backend as the gpujs backend's delegate, made safe for tensors that live on the device:
 * before a delegated call its float32 operands are brought to the host (a no-op unless their host
 * copy is stale), and after it the arrays it wrote are marked host-written, so the device copy is
 * not used again. Delegation is for what the device cannot do (float64, empty shapes), so these
 * transfers are the exception, never a step's routine.
 */
import type { KernelsShape } from "../KernelsShape.ts"
import type { GpujsStorage } from "./residency.ts"

type Delegated = Exclude<keyof KernelsShape, "backend" | "mode" | "forRanks" | "storage" | "attentionSavedLength">

/** Positions of the arguments each kernel writes (outputs, accumulators, updated state). */
const written: Record<Delegated, ReadonlyArray<number>> = {
  matmul: [2],
  add: [2],
  mul: [2],
  scale: [2],
  addInPlace: [0],
  silu: [1],
  siluBackward: [2],
  rmsnorm: [2, 3],
  rmsnormBackward: [4, 5],
  rope: [1],
  attention: [3, 4],
  attentionBackward: [6, 7, 8],
  embedding: [2],
  embeddingBackward: [2],
  crossEntropy: [2],
  softmax: [1],
  sumSquares: [],
  adamw: [0, 2, 3],
  sgd: [0, 2]
}

export type HostKernels = Pick<KernelsShape, Delegated | "attentionSavedLength">

export const onHost = (cpu: KernelsShape, store: GpujsStorage): HostKernels => {
  const wrap = <K extends Delegated>(name: K): KernelsShape[K] => {
    const outputs = written[name]
    const f = cpu[name] as (...args: Array<unknown>) => unknown
    return ((...args: Array<unknown>) => {
      for (const a of args) if (a instanceof Float32Array) store.toHost(a)
      const result = f.apply(cpu, args)
      for (const at of outputs) {
        const a = args[at]
        if (a instanceof Float32Array) store.written(a)
      }
      return result
    }) as KernelsShape[K]
  }
  const out = { attentionSavedLength: cpu.attentionSavedLength.bind(cpu) } as Record<string, unknown>
  for (const name of Object.keys(written) as Array<Delegated>) out[name] = wrap(name)
  return out as unknown as HostKernels
}
