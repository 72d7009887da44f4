/**
 * A dense row-major tensor: a flat float array plus its shape.
 *
 * Model and optimizer state is always float32. Float64 exists so that gradient checks can run
 * the very same kernels in double precision, where float32 rounding would hide real errors.
 */
export type FloatArray = Float32Array | Float64Array

export type DType = "f32" | "f64"

export interface Tensor {
  readonly shape: ReadonlyArray<number>
  readonly data: FloatArray
}

export const sizeOf = (shape: ReadonlyArray<number>): number => {
  let n = 1
  for (const d of shape) n *= d
  return n
}

export const allocate = (dtype: DType, n: number): FloatArray =>
  dtype === "f64" ? new Float64Array(n) : new Float32Array(n)

export const zeros = (shape: ReadonlyArray<number>, dtype: DType = "f32"): Tensor => ({
  shape: [...shape],
  data: allocate(dtype, sizeOf(shape))
})

export const fromArray = (shape: ReadonlyArray<number>, data: FloatArray): Tensor => {
  if (sizeOf(shape) !== data.length) {
    throw new RangeError(`shape [${shape.join(", ")}] needs ${sizeOf(shape)} values, got ${data.length}`)
  }
  return { shape: [...shape], data }
}

export const dtypeOf = (data: FloatArray): DType => (data instanceof Float64Array ? "f64" : "f32")

export const clone = (t: Tensor): Tensor => ({ shape: [...t.shape], data: t.data.slice() })

export const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i])

export const shapeString = (shape: ReadonlyArray<number>): string => `[${shape.join(", ")}]`
