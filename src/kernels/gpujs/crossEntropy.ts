/**
 * Softmax cross-entropy on the device: row statistics, per-row losses and the logits gradient
 * from one upload of the logits. The per-row losses are summed on the host in float64, as the
 * interface requires.
 */
import type { Device } from "./device.ts"
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

export const crossEntropy = (dev: Device) =>
(
  logits: Float32Array,
  targets: Int32Array,
  dLogits: Float32Array,
  rows: number,
  vocab: number,
  gradScale: number
): number => {
  const n = rows * vocab
  // Device arrays hold floats; ids below 2^24 (see MAX_DEVICE_ELEMENTS) are exact in float32.
  const t = new Float32Array(targets.subarray(0, rows))
  const shape = `${rows}x${vocab}`
  dev.begin()
  const dl = dev.upload(logits, n)
  const dt = dev.upload(t)
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
  const losses = dev.readNew(loss, rows)
  dev.read(grad, n, dLogits)
  dev.lap("readback")
  let total = 0
  for (let r = 0; r < rows; r++) total += losses[r]
  return total
}
