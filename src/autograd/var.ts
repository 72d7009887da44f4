import type { FloatArray } from "../tensor/tensor.ts"

/**
 * A node of the tape: a value with its shape, and a gradient buffer allocated lazily.
 *
 * `hasGrad` says whether `grad` holds a contribution yet. The first contribution overwrites the
 * buffer (kernels take an `accumulate` flag for this), later ones add to it, so gradients are
 * never cleared before a backward pass.
 */
export class Var {
  grad: FloatArray | null
  hasGrad = false

  constructor(
    readonly shape: ReadonlyArray<number>,
    readonly value: FloatArray,
    readonly requiresGrad: boolean,
    grad: FloatArray | null = null
  ) {
    this.grad = grad
  }

  get size(): number {
    return this.value.length
  }
}
