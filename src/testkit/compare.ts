/** The first difference between two runs' values, as the errors report it: field and both values. */
import { canonicalJson } from "../checkpoint/canonicalJson.ts"
import { configLeaves } from "../resume/changes.ts"
import type { Tensor } from "../tensor/tensor.ts"

/** A value as a difference shows it: numbers in full, anything else as JSON. */
export const show = (x: unknown): string => (typeof x === "number" ? String(x) : JSON.stringify(x) ?? "undefined")

/** What differs, where, and both values; the errors add the law or the stop point. */
export interface Difference {
  readonly step: number | null
  readonly field: string
  readonly expected: string
  readonly actual: string
}

/** The first difference between two named tensor sets, element by element (bit-exact, -0 ≠ 0). */
export const firstTensorDifference = (
  group: string,
  expected: Readonly<Record<string, Tensor>>,
  actual: Readonly<Record<string, Tensor>>,
  step: number | null
): Difference | undefined => {
  const names = Object.keys(expected)
  const actualNames = Object.keys(actual)
  if (canonicalJson([...names].sort()) !== canonicalJson([...actualNames].sort())) {
    return { step, field: `${group} tensors`, expected: names.join(", "), actual: actualNames.join(", ") }
  }
  for (const name of names) {
    const a = expected[name]!
    const b = actual[name]!
    if (canonicalJson(a.shape) !== canonicalJson(b.shape)) {
      return { step, field: `${group}.${name} shape`, expected: show(a.shape), actual: show(b.shape) }
    }
    for (let i = 0; i < a.data.length; i++) {
      if (!Object.is(a.data[i], b.data[i])) {
        return { step, field: `${group}.${name}[${i}]`, expected: show(a.data[i]), actual: show(b.data[i]) }
      }
    }
  }
  return undefined
}

/** Leaf-by-leaf difference of two JSON values, e.g. checkpoint states. */
export const firstLeafDifference = (
  prefix: string,
  expected: unknown,
  actual: unknown,
  step: number | null
): Difference | undefined => {
  const a = configLeaves(expected)
  const b = configLeaves(actual)
  for (const path of new Set([...a.keys(), ...b.keys()])) {
    if (canonicalJson(a.get(path) ?? null) !== canonicalJson(b.get(path) ?? null)) {
      return { step, field: `${prefix}.${path}`, expected: show(a.get(path)), actual: show(b.get(path)) }
    }
  }
  return undefined
}
