import type { NamedTensors } from "../tensor/namedTensors.ts"

/** A NaN or ±∞ found in a tensor: the tensor's name and the value. */
export interface NonFiniteEntry {
  readonly name: string
  readonly value: number
}

/**
 * The first tensor of `tensors` that holds a NaN or ±∞, with that value; undefined when all are
 * finite. Read-only. Each tensor costs one addition per element: its sum in float64 is finite
 * exactly when every element is (float32 values cannot overflow a float64 sum), and only a tensor
 * whose sum is not finite is searched element by element. A float64 tensor whose finite values
 * overflow the sum is searched and found finite.
 */
export const firstNonFinite = (tensors: NamedTensors): NonFiniteEntry | undefined => {
  for (const [name, tensor] of tensors) {
    const data = tensor.data
    let sum = 0
    for (let i = 0; i < data.length; i++) sum += data[i]!
    if (Number.isFinite(sum)) continue
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) return { name, value: data[i]! }
    }
  }
  return undefined
}
