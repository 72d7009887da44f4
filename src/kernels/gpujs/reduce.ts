/**
 * Sums of a device array down to one value on the device, so that a scalar result (a loss, a
 * squared norm) crosses back as one value instead of the whole array. Two passes: √n partial sums
 * of √n terms each, then their sum — float32 rounding error grows like √n, as in `chunkedSum`.
 */
import type { Device, DeviceArray } from "./device.ts"
import { chunking, kernelSource } from "./source.ts"

const partialSource = (squares: boolean) =>
  kernelSource(
    ["x"],
    `
  const base = this.thread.x * this.constants.CH;
  let s = 0;
  for (let t = 0; t < this.constants.CH; t++) {
    if (base + t < this.constants.N) {
      const v = x[base + t];
      s += ${squares ? "v * v" : "v"};
    }
  }
  return s;`
  )

const totalSource = kernelSource(
  ["partials"],
  `
  let s = 0;
  for (let q = 0; q < this.constants.NC; q++) {
    s += partials[q];
  }
  return s;`
)

/** `Σ x[i]` (or `Σ x[i]²`) over the first `n` values of `x`, as a one-value device array. */
export const sumOnDevice = (dev: Device, x: DeviceArray, n: number, squares: boolean): DeviceArray => {
  const { chunk, chunks } = chunking(n)
  const family = squares ? "sumSquares" : "sum"
  const partials = dev.run(
    `${family}.partials:${n}`,
    () => ({ source: partialSource(squares), output: chunks, constants: { N: n, CH: chunk } }),
    x
  )
  return dev.run(
    `${family}.total:${n}`,
    () => ({ source: totalSource, output: 1, constants: { NC: chunks } }),
    partials
  )
}

/** `Σ x[i]²` of a float32 tensor: summed on the device, one value read back. */
export const sumSquares =
  (dev: Device, store: { input: (x: Float32Array, n: number) => DeviceArray }) => (x: Float32Array): number => {
    dev.begin()
    const total = dev.readNew(sumOnDevice(dev, store.input(x, x.length), x.length, true), 1)[0]!
    dev.end()
    return total
  }
