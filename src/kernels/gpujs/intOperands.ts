/**
 * Integer operands (token ids, targets) on the device, as float textures (exact below 2^24).
 *
 * A step passes the same ids to the embedding and to its backward, and targets that are the same
 * windows shifted by one token: `targets[i] = ids[i + 1]` except at the last position of each
 * row. So the few most recent arrays are kept on the device by value, a repeat costs nothing, and
 * an array that is a recent one shifted by one is built on the device from it plus the positions
 * where it differs (one value per row) — the step's upload is then its ids and one token per row,
 * the windows' T + 1 tokens, rather than ids and targets. Every match is checked value by value
 * on the host, so the device copy is always exactly the array given.
 */
import type { Device, DeviceArray } from "./device.ts"
import { kernelSource } from "./source.ts"

/** Recent arrays kept on the device. */
const KEPT = 4

interface Entry {
  readonly values: Int32Array
  readonly texture: DeviceArray
}

export interface IntOperands {
  /** `ids` as a device array, for use within the current op. */
  readonly input: (ids: Int32Array) => DeviceArray
}

const shiftedSource = kernelSource(
  ["base", "fixes"],
  `
  const i = this.thread.x;
  let v = 0;
  if (i + 1 < this.constants.N) {
    v = base[i + 1];
  }
  for (let e = 0; e < this.constants.E; e++) {
    if (fixes[e] == i) {
      v = fixes[this.constants.E + e];
    }
  }
  return v;`
)

const equal = (a: Int32Array, b: Int32Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Positions where `ids` differs from `base` shifted left by one, when there are few of them. */
const shiftExceptions = (base: Int32Array, ids: Int32Array): Array<number> | undefined => {
  if (base.length !== ids.length) return undefined
  const n = ids.length
  const limit = Math.max(8, n >> 4)
  const at: Array<number> = []
  for (let i = 0; i < n; i++) {
    if (i + 1 < n && base[i + 1] === ids[i]) continue
    at.push(i)
    if (at.length > limit) return undefined
  }
  return at
}

export const makeIntOperands = (dev: Device): IntOperands => {
  const entries: Array<Entry> = []

  const keep = (values: Int32Array, texture: DeviceArray): DeviceArray => {
    entries.push({ values: values.slice(), texture: dev.adopt(texture) })
    if (entries.length > KEPT) dev.free(entries.shift()!.texture)
    return texture
  }

  const shifted = (base: Entry, ids: Int32Array, at: Array<number>): DeviceArray => {
    // Padded to a power of two so the kernel compiles once for a step's usual count.
    let e = 1
    while (e < at.length) e *= 2
    const fixes = new Float32Array(2 * e).fill(-1)
    for (let j = 0; j < at.length; j++) {
      fixes[j] = at[j]!
      fixes[e + j] = ids[at[j]!]!
    }
    const n = ids.length
    return dev.run(
      `ints.shifted:${n}:${e}`,
      () => ({ source: shiftedSource, output: n, constants: { N: n, E: e } }),
      base.texture,
      dev.uploadTo(`ints.fixes:${2 * e}`, fixes)
    )
  }

  return {
    input: (ids) => {
      if (!dev.resident) return dev.upload(new Float32Array(ids))
      for (let j = entries.length - 1; j >= 0; j--) {
        if (equal(entries[j]!.values, ids)) return entries[j]!.texture
      }
      for (let j = entries.length - 1; j >= 0; j--) {
        const at = shiftExceptions(entries[j]!.values, ids)
        if (at !== undefined) return keep(ids, shifted(entries[j]!, ids, at))
      }
      return keep(ids, dev.uploadTo(`ints:${ids.length}`, new Float32Array(ids)))
    }
  }
}
