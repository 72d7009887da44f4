/**
 * Softmax cross-entropy on the device: row statistics, per-row losses and the logits gradient
 * from the logits where they are. The per-row losses are summed on the device (float32, in √rows
 * chunks; see reduce.ts), so one value crosses back per call.
 */
import type { Device } from "./device.ts"
import type { IntOperands } from "./intOperands.ts"
import { sumOnDevice } from "./reduce.ts"
import type { GpujsStorage } from "./residency.ts"
import { rowStatsOnDevice } from "./softmax.ts"
import { idiv, kernelSource } from "./source.ts"

export const rowLossSource = kernelSource(
  ["logits", "targets", "rowMax", "rowSum"],
  `
  const r = this.thread.x;
  const t = targets[r];
  return Math.log(rowSum[r]) + rowMax[r] - logits[r * this.constants.COLS + t];`
)

export const dLogitsSource = kernelSource(
  ["logits", "targets", "rowMax", "rowSum", "gradScale"],
  `
  const i = this.thread.x;
  const r = ${idiv("i", "this.constants.COLS")};
  const c = i - r * this.constants.COLS;
  let g = Math.exp(logits[i] - rowMax[r]) / rowSum[r];
  if (c == targets[r]) {
    g = g - 1;
  }
  return g * gradScale;`
)

export const crossEntropy = (dev: Device, store: GpujsStorage, ints: IntOperands) =>
(
  logits: Float32Array,
  targets: Int32Array,
  dLogits: Float32Array,
  rows: number,
  vocab: number,
  gradScale: number
): number => {
  const n = rows * vocab
  const shape = `${rows}x${vocab}`
  dev.begin()
  const dl = store.input(logits, n)
  const dt = ints.input(targets.length === rows ? targets : targets.subarray(0, rows))
  dev.lap("upload")
  const { max, sum } = rowStatsOnDevice(dev, "crossEntropy", dl, rows, vocab)
  const loss = dev.run(
    `crossEntropy.loss:${shape}`,
    () => ({
      source: rowLossSource,
      output: rows,
      constants: { COLS: vocab }
    }),
    dl,
    dt,
    max,
    sum
  )
  const grad = dev.run(
    `crossEntropy.dLogits:${shape}`,
    () => ({
      source: dLogitsSource,
      output: n,
      constants: { COLS: vocab }
    }),
    dl,
    dt,
    max,
    sum,
    gradScale
  )
  dev.lap("compute")
  // The per-row losses are summed on the device: one value comes back, not one per row.
  const total = dev.readNew(sumOnDevice(dev, loss, rows, false), 1)[0]!
  store.output(dLogits, grad, n)
  dev.lap("readback")
  dev.end()
  return total
}
