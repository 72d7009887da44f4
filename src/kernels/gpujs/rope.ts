/**
 * RoPE on `[B, T, H, hd]`, rotating interleaved pairs. The angles `pos·θ^(-2i/hd)` are computed
 * on the host in float64 and uploaded once per `(T, hd, θ)` as cos/sin tables: GPU `cos` of large
 * arguments is far less accurate than a table lookup.
 */
import { fillRopeTables } from "../ropeTables.ts"
import type { Device, DeviceArray } from "./device.ts"
import type { GpujsStorage } from "./residency.ts"
import { idiv, kernelSource } from "./source.ts"

export const ropeSource = kernelSource(
  ["x", "cosTable", "sinTable", "sign"],
  `
  const i = this.thread.x;
  const row = ${idiv("i", "this.constants.ROW")};
  const pos = row - ${idiv("row", "this.constants.T")} * this.constants.T;
  const within = i - row * this.constants.ROW;
  const e = within - ${idiv("within", "this.constants.HD")} * this.constants.HD;
  const pair = ${idiv("e", "2")};
  const odd = e - pair * 2;
  const x0 = x[i - odd];
  const x1 = x[i - odd + 1];
  const cs = cosTable[pos * this.constants.HALF + pair];
  const sn = sign * sinTable[pos * this.constants.HALF + pair];
  if (odd == 0) {
    return x0 * cs - x1 * sn;
  }
  return x0 * sn + x1 * cs;`
)

export const rope = (dev: Device, store: GpujsStorage) => {
  const tables = new Map<string, { cos: DeviceArray; sin: DeviceArray }>()
  return (
    x: Float32Array,
    out: Float32Array,
    rows: number,
    T: number,
    H: number,
    hd: number,
    theta: number,
    inverse: boolean
  ): void => {
    const n = rows * H * hd
    dev.begin()
    const tableKey = `${T}:${hd}:${theta}`
    let table = tables.get(tableKey)
    if (table === undefined) {
      const cos = new Float32Array(T * hd / 2)
      const sin = new Float32Array(T * hd / 2)
      fillRopeTables(cos, sin, T, hd, theta)
      // Kept for the backend's lifetime: one pair per (T, hd, θ).
      table = {
        cos: dev.adopt(dev.uploadTo(`rope.cos:${tableKey}`, cos)),
        sin: dev.adopt(dev.uploadTo(`rope.sin:${tableKey}`, sin))
      }
      tables.set(tableKey, table)
    }
    const ux = store.input(x, n)
    dev.lap("upload")
    const r = dev.run(
      `rope:${rows}x${T}x${H}x${hd}`,
      () => ({
        source: ropeSource,
        output: n,
        constants: { ROW: H * hd, T, HD: hd, HALF: hd / 2 }
      }),
      ux,
      table.cos,
      table.sin,
      inverse ? -1 : 1
    )
    dev.lap("compute")
    store.output(out, r, n)
    dev.lap("readback")
    dev.end()
  }
}
