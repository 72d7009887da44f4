/**
 * Row-wise softmax as three chained kernels kept on the device: row max, row sum of
 * `exp(x − max)`, then the normalised values. Shared with cross-entropy.
 */
import type { Device, DeviceArray } from "./device.ts"
import type { GpujsStorage } from "./residency.ts"
import { chunkedSum, idiv, kernelSource, sumConstants } from "./source.ts"

export const rowMaxSource = kernelSource(
  ["x"],
  `
  const base = this.thread.x * this.constants.COLS;
  let m = x[base];
  for (let c = 1; c < this.constants.COLS; c++) {
    m = Math.max(m, x[base + c]);
  }
  return m;`
)

export const rowSumExpSource = kernelSource(
  ["x", "rowMax"],
  `
  const base = this.thread.x * this.constants.COLS;
  const m = rowMax[this.thread.x];
  ${chunkedSum({ result: "s", index: "c", bound: "COLS", term: "Math.exp(x[base + c] - m)" })}
  return s;`
)

export const softmaxSource = kernelSource(
  ["x", "rowMax", "rowSum"],
  `
  const i = this.thread.x;
  const r = ${idiv("i", "this.constants.COLS")};
  return Math.exp(x[i] - rowMax[r]) / rowSum[r];`
)

/** Row maxima and row sums of `exp(x − max)` of a `rows × cols` device array. */
export const rowStatsOnDevice = (
  dev: Device,
  family: string,
  x: DeviceArray,
  rows: number,
  cols: number
): { readonly max: DeviceArray; readonly sum: DeviceArray } => {
  const shape = `${rows}x${cols}`
  const max = dev.run(`${family}.rowMax:${shape}`, () => ({
    source: rowMaxSource,
    output: rows,
    constants: { COLS: cols }
  }), x)
  const sum = dev.run(
    `${family}.rowSumExp:${shape}`,
    () => ({
      source: rowSumExpSource,
      output: rows,
      constants: sumConstants("COLS", cols)
    }),
    x,
    max
  )
  return { max, sum }
}

export const softmaxOnDevice = (dev: Device, x: DeviceArray, rows: number, cols: number): DeviceArray => {
  const { max, sum } = rowStatsOnDevice(dev, "softmax", x, rows, cols)
  return dev.run(
    `softmax:${rows}x${cols}`,
    () => ({
      source: softmaxSource,
      output: rows * cols,
      constants: { COLS: cols }
    }),
    x,
    max,
    sum
  )
}

export const softmax =
  (dev: Device, store: GpujsStorage) => (x: Float32Array, out: Float32Array, rows: number, cols: number): void => {
    const n = rows * cols
    dev.begin()
    const dx = store.input(x, n)
    dev.lap("upload")
    const r = softmaxOnDevice(dev, dx, rows, cols)
    dev.lap("compute")
    store.output(out, r, n)
    dev.lap("readback")
    dev.end()
  }
