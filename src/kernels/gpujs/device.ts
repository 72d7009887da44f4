/**
 * A gpu.js GPU plus everything the kernels need around it: compiled kernels cached per shape,
 * uploads into device arrays, readback into caller arrays, and optional per-stage timing.
 *
 * Every kernel is 1-D over a flat output (indices are decomposed inside the kernel), runs in
 * pipeline mode so chained kernels pass results on the device, and is compiled once per shape:
 * shapes and loop bounds are compile-time constants, scalars that change between calls (learning
 * rate, eps, scales) are uniforms, so a training step never recompiles.
 */
import type { GPU, IGPUKernelSettings, IKernelRunShortcut, KernelVariable } from "gpu.js"
import type { FloatArray } from "../../tensor/tensor.ts"
import { KernelArgumentError } from "../KernelArgumentError.ts"
import { leading } from "../leading.ts"
import type { GpujsRunMode } from "./modes.ts"

/** A value living on the device: a GL texture, or a Float32Array for the webasm and cpu modes. */
export type DeviceArray = KernelVariable & { readonly __deviceArray?: never }

export interface KernelSpec {
  /** The kernel as the source text of a plain `function` expression (immune to transpilers). */
  readonly source: string
  /** Number of outputs (the kernel runs once per output element). */
  readonly output: number
  /** Compile-time integers: shapes, loop bounds. */
  readonly constants: Readonly<Record<string, number>>
  /**
   * "Array(4)": each thread returns four floats, one texel; a kernel taking the result indexes it
   * by texel and gets all four in one fetch (matmul's packed operands).
   */
  readonly returnType?: "Array(4)"
}

export type Stage = "upload" | "compute" | "readback"

export interface StageTimes {
  upload: number
  compute: number
  readback: number
}

/**
 * What the backend moved across the gpu.js boundary while counting: float32 bytes handed to the
 * device (uploads), bytes read back from it, and kernel runs. Logical sizes: a GL texture pads an
 * array to whole texels and rows, which is not counted. In headlessgl every upload is also a
 * launch (gpu.js copies an uploaded array into a texture of its own with an identity kernel); in
 * the webasm and cpu modes nothing crosses a bus, and the bytes are those handed over in memory.
 */
export interface Traffic {
  bytesUp: number
  bytesDown: number
  launches: number
}

const BYTES_PER_FLOAT = 4

/**
 * Float32 holds integers exactly up to 2^24, and kernels index arrays with float arithmetic, so a
 * single array on the device is limited to this many elements.
 */
export const MAX_DEVICE_ELEMENTS = 1 << 24

const IDENTITY = "function (a) { return a[this.thread.x]; }"

interface GlContextHolder {
  readonly context?: { finish?: () => void } | null
}

export class Device {
  private readonly kernels = new Map<string, IKernelRunShortcut>()
  private readonly checked = new Set<string>()
  /** Kernels that gpu.js moved to its cpu kernel behind our back, with its reason. */
  readonly fallbacks: Array<{ readonly key: string; readonly reason: string }> = []
  private readonly uploadsInOp = new Map<number, number>()
  private profiling: StageTimes | undefined
  private lapStart = 0
  private counting: Traffic | undefined
  /** Textures the current op's runs returned and nothing has adopted yet: deleted at `end()`. */
  private readonly temporaries: Array<DeviceArray> = []
  private live = 0
  /**
   * Whether device arrays are textures that outlive the op that made them (headless GL): tensors
   * can then stay on the device between kernels (see residency.ts). In the webasm and cpu modes a
   * "device" array is a host array already, so results are copied out at once as before.
   */
  readonly resident: boolean

  constructor(readonly gpu: GPU, readonly mode: GpujsRunMode) {
    this.resident = mode === "headlessgl"
  }

  /** Textures handed out by runs and not yet deleted: the tensors' own plus any op's in flight. */
  get liveTextures(): number {
    return this.live
  }

  /** Number of distinct compiled kernels (one per family, variant and shape). */
  get compiledCount(): number {
    return this.kernels.size
  }

  /** The cached kernel for `key`, compiled from `spec()` on first use. */
  kernel(key: string, spec: () => KernelSpec): IKernelRunShortcut {
    let k = this.kernels.get(key)
    if (k === undefined) {
      const s = spec()
      checkSize(`${key} output`, s.output)
      let loopMax = 1
      for (const v of Object.values(s.constants)) if (Number.isInteger(v) && v > loopMax) loopMax = v
      // loopMaxIterations is a kernel setting gpu.js's typings leave out of IGPUKernelSettings.
      const settings: IGPUKernelSettings & { loopMaxIterations: number } = {
        output: [s.output],
        constants: s.constants,
        loopMaxIterations: loopMax,
        pipeline: true,
        // Immutable: every run returns a texture of its own (gpu.js renders into a fresh one while
        // an earlier result is still held), so a result can become a tensor's value on the device
        // and survive the next run of the same kernel. A result nobody holds any more is deleted
        // (`free`), after which the kernel renders into its own texture again: no growth.
        immutable: this.resident,
        precision: "single",
        // One float per texel. Packing four (optimizeFloatMemory) saves texture memory, but every
        // fetch then selects a channel after an extra integer division, which costs more in a
        // software rasteriser than the memory is worth now that tensors rarely cross back.
        optimizeFloatMemory: false,
        tactic: "precision",
        ...(s.returnType === undefined ? {} : { returnType: s.returnType })
      }
      k = this.gpu.createKernel(s.source, settings)
      this.kernels.set(key, k)
    }
    return k
  }

  /** Runs a cached kernel; on its first run, records whether gpu.js fell back to its cpu kernel. */
  run(key: string, spec: () => KernelSpec, ...args: Array<KernelVariable>): DeviceArray {
    const k = this.kernel(key, spec)
    const result = k(...args) as DeviceArray
    if (this.resident) {
      this.live += 1
      this.temporaries.push(result)
    }
    if (this.counting !== undefined) this.counting.launches += 1
    if (!this.checked.has(key)) {
      this.checked.add(key)
      const inner =
        (k as unknown as { kernel: { constructor: { name: string }; fallbackReason?: string | null } }).kernel
      if (this.mode !== "cpu" && inner.constructor.name === "CPUKernel") {
        this.fallbacks.push({ key, reason: inner.fallbackReason ?? "gpu.js fell back to its cpu kernel" })
      }
    }
    return result
  }

  /**
   * Puts the first `length` values of `data` on the device for the current op. Uploads go through a pool of identity kernels
   * per length, taken in order since the op's `begin()`: an op's inputs never share a texture,
   * and the next op reuses the same compiled kernels (its predecessor has read its results back).
   */
  upload(data: Float32Array, length: number = data.length): DeviceArray {
    const ordinal = this.uploadsInOp.get(length) ?? 0
    this.uploadsInOp.set(length, ordinal + 1)
    return this.uploadTo(`upload#${ordinal}`, leading(data, length))
  }

  /**
   * Puts `data` on the device in a texture of its own, named `slot`, that stays valid until the
   * next upload to the same slot (for tables an op keeps across calls).
   */
  uploadTo(slot: string, data: Float32Array): DeviceArray {
    checkSize(slot, data.length)
    if (this.counting !== undefined) this.counting.bytesUp += data.length * BYTES_PER_FLOAT
    // In the webasm and cpu modes "device" arrays are plain arrays: no copy needed.
    if (this.mode !== "headlessgl") return data as DeviceArray
    return this.run(`${slot}:${data.length}`, () => ({ source: IDENTITY, output: data.length, constants: {} }), data)
  }

  /**
   * Takes `texture`, a result of the current op, out of the op's temporaries: the caller now owns
   * it (a tensor's value, a table kept across calls) and frees it when done.
   */
  adopt(texture: DeviceArray): DeviceArray {
    const at = this.temporaries.lastIndexOf(texture)
    if (at >= 0) this.temporaries.splice(at, 1)
    return texture
  }

  /** Deletes a texture a run returned (a no-op for the host arrays of the webasm and cpu modes). */
  free(texture: DeviceArray): void {
    if (!this.resident || !hasDelete(texture)) return
    texture.delete()
    this.live -= 1
  }

  /** Marks the end of an op: deletes the textures it made that nothing adopted. */
  end(): void {
    for (const t of this.temporaries) this.free(t)
    this.temporaries.length = 0
  }

  /** Copies the first `n` values of a device array into `dst` (converting to f64 if needed). */
  read(src: DeviceArray, n: number, dst: FloatArray): void {
    const values = hasToArray(src) ? (src.toArray() as Float32Array) : (src as unknown as Float32Array)
    // The whole device array comes back, also when the caller keeps only its first `n` values.
    if (this.counting !== undefined) this.counting.bytesDown += values.length * BYTES_PER_FLOAT
    if (values.length === n) dst.set(values)
    else dst.set(values.subarray(0, n))
  }

  /** Reads a device array into a fresh Float32Array. */
  readNew(src: DeviceArray, n: number): Float32Array {
    const out = new Float32Array(n)
    this.read(src, n, out)
    return out
  }

  /** Blocks until queued device work is done (GL `finish`); a no-op for the cpu-side modes. */
  sync(): void {
    // All kernels of a GPU share its context (set when its first kernel was built).
    ;(this.gpu as unknown as GlContextHolder).context?.finish?.()
  }

  /** Starts accumulating per-stage times; ops then synchronise at every stage boundary. */
  startProfiling(): void {
    this.profiling = { upload: 0, compute: 0, readback: 0 }
  }

  /** Stops profiling and returns the accumulated times in milliseconds. */
  stopProfiling(): StageTimes {
    const t = this.profiling ?? { upload: 0, compute: 0, readback: 0 }
    this.profiling = undefined
    return t
  }

  /**
   * Starts counting traffic (see `Traffic`). Off by default: outside a benchmark an op pays one
   * `undefined` check per upload, launch and readback, and nothing else.
   */
  startCounting(): void {
    this.counting = { bytesUp: 0, bytesDown: 0, launches: 0 }
  }

  /** Stops counting and returns what was counted since `startCounting`. */
  stopCounting(): Traffic {
    const t = this.counting ?? { bytesUp: 0, bytesDown: 0, launches: 0 }
    this.counting = undefined
    return t
  }

  /** Marks the start of an op: resets the upload pool, and starts the first stage's clock if profiling. */
  begin(): void {
    this.end()
    this.uploadsInOp.clear()
    if (this.profiling) this.lapStart = performance.now()
  }

  /** Marks the end of `stage`: waits for the device and charges the elapsed time. Free unless profiling. */
  lap(stage: Stage): void {
    if (!this.profiling) return
    this.sync()
    const now = performance.now()
    this.profiling[stage] += now - this.lapStart
    this.lapStart = now
  }
}

const hasDelete = (x: unknown): x is { delete(): void } =>
  typeof x === "object" && x !== null && typeof (x as { delete?: unknown }).delete === "function"

const hasToArray = (x: unknown): x is { toArray(): unknown } =>
  typeof x === "object" && x !== null && typeof (x as { toArray?: unknown }).toArray === "function"

const checkSize = (name: string, n: number) => {
  if (n > MAX_DEVICE_ELEMENTS) {
    throw new KernelArgumentError({
      kernel: "gpujs",
      field: `${name}.length`,
      value: n,
      expected: `≤ ${MAX_DEVICE_ELEMENTS} (device arrays are indexed in float32)`
    })
  }
}
