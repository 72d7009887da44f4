import { normal, streamId } from "../tensor/rng.ts"
import { type DType, zeros } from "../tensor/tensor.ts"
import type { Params, ParamSpec } from "./model.ts"

/**
 * Fresh parameters: entry `i` of parameter `name` is `std · normal(seed, streamId(name), i)` for
 * normal-initialised tensors, 1 for norm weights. One stream per name means a tensor's initial
 * value does not depend on which other parameters exist or in what order they are built.
 */
export const initParams = (specs: ReadonlyArray<ParamSpec>, seed: number, dtype: DType = "f32"): Params => {
  const params: Params = new Map()
  for (const spec of specs) {
    const t = zeros(spec.shape, dtype)
    const init = spec.init
    if (init.kind === "ones") {
      t.data.fill(1)
    } else {
      const stream = streamId(spec.name)
      for (let i = 0; i < t.data.length; i++) t.data[i] = init.std * normal(seed, stream, i)
    }
    params.set(spec.name, t)
  }
  return params
}

/** Zero tensors with the shapes of `specs`, e.g. gradient buffers. */
export const zerosFor = (specs: ReadonlyArray<ParamSpec>, dtype: DType = "f32"): Params =>
  new Map(specs.map((s) => [s.name, zeros(s.shape, dtype)]))
