import type { Tensor } from "../tensor/tensor.ts"

/**
 * Where a backend keeps the float32 tensors its kernels work on. The run allocates its
 * parameters, gradients, optimizer moments and activations here, so a backend whose kernels
 * compute somewhere other than the JavaScript heap (the cpu backend's WebAssembly memory, the
 * gpujs backend's device textures) can use them in place instead of copying every operand in and
 * every result out on each call.
 *
 * Tensors stay ordinary `Float32Array`s to their holders; what the storage adds is that the
 * kernels recognise them. Everything that reads values back for the host (checkpoint snapshots,
 * `export`, sampling's logits) goes through `read`, so a backend that keeps tensors off the host can
 * fetch them there; host code that writes one says so (`written`, `fill`), so such a backend never
 * computes on a stale copy.
 */
export interface TensorStorage {
  /** `n` zeroed float32 values in the backend's storage. */
  readonly allocate: (n: number) => Float32Array
  /** Gives back an allocation nothing uses any more (the storage may hand it out again); others are ignored. */
  readonly release: (x: Float32Array) => void
  /** The values of a tensor of this storage as host memory (the view itself where the host can address it). */
  readonly read: (x: Float32Array) => Float32Array
  /**
   * Host code wrote values into `x` (any array; only the storage's own matter): a backend that
   * keeps a copy elsewhere must not use that copy again.
   */
  readonly written: (x: Float32Array | Float64Array) => void
  /** Sets every value of `x` to `value`, in whichever copy the backend uses (`x.fill` on the host). */
  readonly fill: (x: Float32Array | Float64Array, value: number) => void
}

/** Storage on the JavaScript heap, for backends that take any array (each call brings its operands). */
export const hostStorage: TensorStorage = {
  allocate: (n) => new Float32Array(n),
  release: () => undefined,
  read: (x) => x,
  written: () => undefined,
  fill: (x, value) => {
    x.fill(value)
  }
}

/**
 * Moves the float32 tensors of `tensors` into `storage`: copies their values and replaces each
 * entry of the map, so every holder of the map — the model, the optimizer, the checkpoint
 * snapshot — uses the storage's copy from now on.
 */
export const moveIntoStorage = (storage: TensorStorage, tensors: Map<string, Tensor>): void => {
  for (const [name, tensor] of tensors) {
    if (!(tensor.data instanceof Float32Array)) continue
    const data = storage.allocate(tensor.data.length)
    data.set(tensor.data)
    storage.written(data)
    tensors.set(name, { shape: tensor.shape, data })
  }
}

/** The tensors of `tensors` as host values (for a checkpoint snapshot), by name. */
export const readTensors = (storage: TensorStorage, tensors: ReadonlyMap<string, Tensor>): Record<string, Tensor> => {
  const out: Record<string, Tensor> = {}
  for (const [name, tensor] of tensors) {
    out[name] = tensor.data instanceof Float32Array ? { shape: tensor.shape, data: storage.read(tensor.data) } : tensor
  }
  return out
}
