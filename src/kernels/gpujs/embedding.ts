/**
 * Embedding lookup and its backward on the device, with the token ids as a float texture (ids are
 * below 2^24, exact in float32). The backward is a gather rather than a scatter: each table entry
 * walks the rows in order and adds those whose id is its own, so the sum runs in the same order
 * as the cpu backend's ordered scatter-add, and no two threads write one value.
 */
import type { Device } from "./device.ts"
import type { IntOperands } from "./intOperands.ts"
import { pack, strided } from "./pack.ts"
import type { GpujsStorage } from "./residency.ts"
import { idiv, kernelSource } from "./source.ts"

export const embeddingSource = kernelSource(
  ["table", "ids"],
  `
  const i = this.thread.x;
  const r = ${idiv("i", "this.constants.DIM")};
  const c = i - r * this.constants.DIM;
  return table[ids[r] * this.constants.DIM + c];`
)

export const embeddingBackwardSource = kernelSource(
  ["dOut", "ids", "dTableIn"],
  `
  const i = this.thread.x;
  const v = ${idiv("i", "this.constants.DIM")};
  const c = i - v * this.constants.DIM;
  let s = dTableIn[i];
  for (let r = 0; r < this.constants.ROWS; r++) {
    if (ids[r] == v) {
      s += dOut[r * this.constants.DIM + c];
    }
  }
  return s;`
)

/**
 * The same gather with the ids packed four per texel (headless GL; pack.ts): every table entry
 * reads all ids, so a quarter of the fetches. Padding ids are -1, which no entry matches.
 */
export const packedEmbeddingBackwardSource = kernelSource(
  ["dOut", "ids4", "dTableIn"],
  `
  const i = this.thread.x;
  const v = ${idiv("i", "this.constants.DIM")};
  const c = i - v * this.constants.DIM;
  let s = dTableIn[i];
  for (let q = 0; q < this.constants.RQ; q++) {
    const t = ids4[q];
    const r = q * 4;
    if (t[0] == v) {
      s += dOut[r * this.constants.DIM + c];
    }
    if (t[1] == v) {
      s += dOut[(r + 1) * this.constants.DIM + c];
    }
    if (t[2] == v) {
      s += dOut[(r + 2) * this.constants.DIM + c];
    }
    if (t[3] == v) {
      s += dOut[(r + 3) * this.constants.DIM + c];
    }
  }
  return s;`
)

export const embedding =
  (dev: Device, store: GpujsStorage, ints: IntOperands) =>
  (table: Float32Array, ids: Int32Array, out: Float32Array, dim: number): void => {
    const rows = ids.length
    const n = rows * dim
    dev.begin()
    const ut = store.input(table, table.length)
    const ui = ints.input(ids)
    dev.lap("upload")
    const r = dev.run(
      `embedding:${table.length}x${rows}x${dim}`,
      () => ({ source: embeddingSource, output: n, constants: { DIM: dim } }),
      ut,
      ui
    )
    dev.lap("compute")
    store.output(out, r, n)
    dev.lap("readback")
    dev.end()
  }

export const embeddingBackward =
  (dev: Device, store: GpujsStorage, ints: IntOperands) =>
  (dOut: Float32Array, ids: Int32Array, dTable: Float32Array, dim: number): void => {
    const rows = ids.length
    const n = dTable.length
    const shape = `${n}x${rows}x${dim}`
    dev.begin()
    const ud = store.input(dOut, rows * dim)
    const ui = ints.input(ids)
    const ut = store.input(dTable, n)
    dev.lap("upload")
    const r = dev.resident
      ? dev.run(
        `embeddingBackward.packed:${shape}`,
        () => ({ source: packedEmbeddingBackwardSource, output: n, constants: { DIM: dim, RQ: Math.ceil(rows / 4) } }),
        ud,
        // The ids four per texel, padded with -1 (no entry's id).
        pack(dev, ui, 1, rows, strided(0, 1), -1),
        ut
      )
      : dev.run(
        `embeddingBackward:${shape}`,
        () => ({ source: embeddingBackwardSource, output: n, constants: { DIM: dim, ROWS: rows } }),
        ud,
        ui,
        ut
      )
    dev.lap("compute")
    store.output(dTable, r, n)
    dev.lap("readback")
    dev.end()
  }
