/**
 * The gpujs backend's tensor storage: keeps the run's tensors on the device between kernels.
 *
 * An allocation is an ordinary `Float32Array` (its holders index it as before) registered with a
 * residency record: the texture holding its device copy, and which copy is current — the host's,
 * the device's, or both. A kernel takes a registered, device-current operand as its texture (no
 * upload) and leaves its result on the device as the output tensor's new texture (no readback);
 * the host copy is then stale until someone needs it on the host, and `read` fetches it once.
 * A tensor's previous texture is deleted as soon as it is replaced, so the number of live
 * textures is fixed by the set of live tensors, not by the number of steps.
 *
 * Host code that writes a registered tensor says so (`written`, `fill`), so the device copy is
 * never silently stale; operands that are not registered (a caller's own arrays, float64) travel
 * per call as before. Only in headless GL is there a device to stay on: in the webasm and cpu
 * modes device arrays are host arrays already, and nothing is registered.
 */
import { leading } from "../leading.ts"
import type { TensorStorage } from "../TensorStorage.ts"
import type { Device, DeviceArray } from "./device.ts"

type Current = "host" | "device" | "both"

interface ResidencyRecord {
  /** The device copy, when there is one. */
  texture: DeviceArray | undefined
  current: Current
}

const FILL = "function (v) { return v; }"

export interface GpujsStorage extends TensorStorage {
  /** The device array a kernel reads the first `n` values of `x` from (uploading only what must be). */
  readonly input: (x: Float32Array, n: number) => DeviceArray
  /** Gives `x` the kernel result `result` as its first `n` values: kept on the device when `x` is registered. */
  readonly output: (x: Float32Array, result: DeviceArray, n: number) => void
  /** Makes the host copy of `x` current (before host code or the cpu backend reads it). */
  readonly toHost: (x: Float32Array) => void
  /** Number of registered tensors whose values live in a texture. */
  readonly residentTensors: () => number
}

export const makeGpujsStorage = (dev: Device): GpujsStorage => {
  const records = new Map<Float32Array, ResidencyRecord>()

  const drop = (record: ResidencyRecord): void => {
    if (record.texture !== undefined) dev.free(record.texture)
    record.texture = undefined
  }

  const toHost = (x: Float32Array): void => {
    const record = records.get(x)
    if (record === undefined || record.current !== "device") return
    dev.read(record.texture!, x.length, x)
    record.current = "both"
  }

  const written = (x: Float32Array | Float64Array): void => {
    const record = x instanceof Float32Array ? records.get(x) : undefined
    if (record === undefined) return
    drop(record)
    record.current = "host"
  }

  return {
    allocate: (n) => {
      const x = new Float32Array(n)
      if (dev.resident) records.set(x, { texture: undefined, current: "host" })
      return x
    },
    release: (x) => {
      const record = records.get(x)
      if (record === undefined) return
      drop(record)
      records.delete(x)
    },
    read: (x) => {
      toHost(x)
      return x
    },
    written,
    fill: (x, value) => {
      x.fill(value)
      const record = x instanceof Float32Array ? records.get(x) : undefined
      if (record === undefined || x.length === 0) return
      // Both copies are set: the host's costs a memset, and saves a readback when host code reads
      // the value (the loss's seed gradient), the device's a launch instead of an upload.
      drop(record)
      dev.begin()
      const texture = dev.run(`fill:${x.length}`, () => ({ source: FILL, output: x.length, constants: {} }), value)
      record.texture = dev.adopt(texture)
      record.current = "both"
      dev.end()
    },
    toHost,
    input: (x, n) => {
      const record = records.get(x)
      if (record === undefined) return dev.upload(x, n)
      if (record.current === "host") {
        // First use since the host wrote it: upload the whole tensor once, into a texture of its own.
        record.texture = dev.adopt(dev.uploadTo(`resident:${x.length}`, x))
        record.current = "both"
      }
      return record.texture!
    },
    output: (x, result, n) => {
      const record = records.get(x)
      if (record === undefined || n !== x.length) {
        // A partial write of a registered tensor keeps the rest of it: done on the host copy.
        if (record !== undefined) toHost(x)
        dev.read(result, n, leading(x, n))
        if (record !== undefined) written(x)
        return
      }
      drop(record)
      record.texture = dev.adopt(result)
      record.current = "device"
    },
    residentTensors: () => {
      let n = 0
      for (const record of records.values()) if (record.texture !== undefined) n += 1
      return n
    }
  }
}
