import type { KernelsShape } from "../kernels/KernelsShape.ts"
import type { NamedTensors } from "../tensor/namedTensors.ts"

/** A NaN or ±∞ found in a tensor: the tensor's name and the value. */
export interface NonFiniteEntry {
  readonly name: string
  readonly value: number
}

/**
 * The first tensor of `tensors` that holds a NaN or ±∞, with that value; undefined when all are
 * finite. Read-only. Each tensor costs one `sumSquares` on the kernels, where the tensor lives (on
 * a device, one value crosses back): a sum of squares is finite when every element is and is not
 * too large (float32 values cannot overflow a float64 one), and only a tensor whose sum is not
 * finite is searched element by element, on the host. A tensor whose finite values overflow the
 * sum (float64 ones, or float32 ones summed in float32 on a device) is searched and found finite.
 */
export const firstNonFinite = (kernels: KernelsShape, tensors: NamedTensors): NonFiniteEntry | undefined => {
  for (const [name, tensor] of tensors) {
    if (Number.isFinite(kernels.sumSquares(tensor.data))) continue
    const data = tensor.data instanceof Float32Array ? kernels.storage.read(tensor.data) : tensor.data
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) return { name, value: data[i]! }
    }
  }
  return undefined
}
