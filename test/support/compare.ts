import { assert } from "@effect/vitest"
import type { Tensor } from "../../src/tensor/tensor.ts"

/**
 * Compares two tensor records bit for bit (as raw 32-bit patterns, so -0 ≠ 0 and NaN = NaN): the
 * same names, the same shapes, the same bits. `what` names the record in failure messages.
 */
export const assertSameTensors = (actual: Record<string, Tensor>, expected: Record<string, Tensor>, what: string) => {
  assert.deepStrictEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: tensor names`)
  for (const [name, e] of Object.entries(expected)) {
    const a = actual[name]!
    assert.deepStrictEqual([...a.shape], [...e.shape], `${what}.${name}: shape`)
    const bitsA = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length)
    const bitsE = new Uint32Array(e.data.buffer, e.data.byteOffset, e.data.length)
    const at = bitsA.findIndex((bits, i) => bits !== bitsE[i])
    assert.strictEqual(at, -1, `${what}.${name}: element ${at} is ${a.data[at]}, expected ${e.data[at]}`)
  }
}
