/**
 * Batch assembly: copies windows of a part into flat `[count, seqLen]` input and target arrays
 * (row k is sample k; targets are the inputs shifted by one token).
 */
import type { WindowedPart } from "./split.ts"

export interface Batch {
  /** `count × seqLen` input token ids, row-major. */
  readonly ids: Int32Array
  /** `count × seqLen` next-token targets, row-major. */
  readonly targets: Int32Array
  readonly count: number
  readonly seqLen: number
}

export const gatherWindows = (part: WindowedPart, windowIndices: ArrayLike<number>): Batch => {
  const { tokens, offset, seqLen } = part
  const count = windowIndices.length
  const ids = new Int32Array(count * seqLen)
  const targets = new Int32Array(count * seqLen)
  for (let k = 0; k < count; k++) {
    const w = windowIndices[k]
    if (!(w >= 0 && w < part.windows)) throw new RangeError(`window ${w} outside [0, ${part.windows})`)
    const start = offset + w * seqLen
    const row = k * seqLen
    for (let t = 0; t < seqLen; t++) {
      ids[row + t] = tokens[start + t]
      targets[row + t] = tokens[start + t + 1]
    }
  }
  return { ids, targets, count, seqLen }
}

/** Windows [first, first + count) of the part, in order. */
export const consecutiveWindows = (part: WindowedPart, first: number, count: number): Batch => {
  const indices = new Int32Array(count)
  for (let k = 0; k < count; k++) indices[k] = first + k
  return gatherWindows(part, indices)
}
