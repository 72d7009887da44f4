import { Effect } from "effect"
import { allocate, type DType, type FloatArray, sameShape, shapeString, sizeOf, type Tensor } from "../tensor/tensor.ts"
import { MissingParamError, type ParamMapError, ParamShapeError, UnexpectedParamError } from "./errors.ts"
import type { LanguageModel, Params, ParamSpec } from "./model.ts"

/** A copy of every parameter as a plain record, keys in canonical order. */
export const dumpParams = (params: Params): Record<string, Tensor> => {
  const out: Record<string, Tensor> = {}
  for (const [name, t] of params) out[name] = { shape: [...t.shape], data: t.data.slice() }
  return out
}

/** The first way `map` fails to match `specs` exactly (names and shapes), if any. */
export const checkParamMap = (
  specs: ReadonlyArray<ParamSpec>,
  map: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>
): ParamMapError | undefined => {
  const get = (name: string): Tensor | undefined =>
    map instanceof Map ? map.get(name) : Object.hasOwn(map, name) ? (map as Record<string, Tensor>)[name] : undefined
  for (const spec of specs) {
    const t = get(spec.name)
    if (t === undefined) return new MissingParamError({ name: spec.name, expectedShape: shapeString(spec.shape) })
    if (!sameShape(t.shape, spec.shape) || t.data.length !== sizeOf(spec.shape)) {
      return new ParamShapeError({
        name: spec.name,
        expectedShape: shapeString(spec.shape),
        actualShape: t.data.length === sizeOf(t.shape)
          ? shapeString(t.shape)
          : `${shapeString(t.shape)} with ${t.data.length} values`
      })
    }
  }
  const known = new Set(specs.map((s) => s.name))
  const names = map instanceof Map ? [...map.keys()] : Object.keys(map)
  for (const name of names) {
    if (!known.has(name)) {
      const t = get(name)
      return new UnexpectedParamError({ name, actualShape: t === undefined ? "[]" : shapeString(t.shape) })
    }
  }
  return undefined
}

const convert = (data: FloatArray, dtype: DType): FloatArray => {
  const out = allocate(dtype, data.length)
  out.set(data)
  return out
}

/**
 * Parameters for `model` from named tensors (e.g. read from a checkpoint): every parameter must
 * be present with its exact shape and nothing else may be; the data is copied (converted to
 * `dtype`), in canonical order.
 */
export const loadParams = (
  model: Pick<LanguageModel, "params">,
  map: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  dtype: DType = "f32"
): Effect.Effect<Params, ParamMapError> => {
  const error = checkParamMap(model.params, map)
  if (error !== undefined) return Effect.fail(error)
  const params: Params = new Map()
  for (const spec of model.params) {
    const t = map instanceof Map ? map.get(spec.name)! : (map as Record<string, Tensor>)[spec.name]
    params.set(spec.name, { shape: [...spec.shape], data: convert(t.data, dtype) })
  }
  return Effect.succeed(params)
}
