/**
 * The gpujs kernel backend: `KernelsShape` on gpu.js, acquired as a scoped resource.
 *
 * `makeGpujsKernels(mode)` opens the best mode it can reach from the requested one and says why
 * it had to step down: `webgpu` → (Dawn unavailable) → the `gpu` chain; `gpu` and `headlessgl` →
 * headless GL (starting a private Xvfb when no display exists) → `webasm` → gpu.js `cpu`;
 * `webasm` → `cpu`. Each candidate is verified by running a probe kernel, so the reported mode
 * is the one that actually ran, not the one gpu.js claims. The GPU is destroyed when the scope
 * closes (a virtual display started for headless GL outlives it: see display.ts).
 */
import { Effect, Layer, Schema, type Scope } from "effect"
import { GPU } from "gpu.js"
import { makeCpuKernels } from "../cpu/index.ts"
import { Kernels } from "../Kernels.ts"
import type { KernelsShape } from "../KernelsShape.ts"
import { makeBackend } from "./backend.ts"
import { Device } from "./device.ts"
import {
  type GpujsMode,
  gpujsModes,
  type GpujsRunMode,
  headlessGlUnavailableReason,
  webasmUnavailableReason,
  webgpuUnavailableReason
} from "./modes.ts"

export { delegatedKernelNames, deviceKernelNames } from "./backend.ts"
export { Device, type DeviceArray, MAX_DEVICE_ELEMENTS, type Stage, type StageTimes, type Traffic } from "./device.ts"
export { type GpujsMode, gpujsModes, type GpujsRunMode } from "./modes.ts"

export interface GpujsKernels {
  /** The kernels; `kernels.mode` is the gpu.js mode that runs them. */
  readonly kernels: KernelsShape
  /** The mode that was asked for. */
  readonly requested: GpujsMode
  /** The mode that runs (verified with a probe kernel). */
  readonly mode: GpujsRunMode
  /** Why the requested mode (or a better one on the way down) is not the one running. */
  readonly reason: string | undefined
  /** The device under the kernels: kernel cache, fallbacks, stage profiling (for benchmarks). */
  readonly device: Device
}

/** Not even gpu.js's own cpu mode could run a probe kernel: nothing to fall back to. */
export class GpujsUnavailableError extends Schema.TaggedError<GpujsUnavailableError>()("GpujsUnavailableError", {
  requested: Schema.String,
  reasons: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `gpujs mode "${this.requested}" unavailable and no fallback ran: ${this.reasons.join("; ")}`
  }
}

export interface GpujsOptions {
  /** The backend for delegated kernels and float64 calls (default: a new cpu backend instance). */
  readonly delegate?: KernelsShape
}

type Opened = { readonly gpu: GPU; readonly device: Device } | { readonly failure: string }

const PROBE_A: ReadonlyArray<number> = [1, 2, 3, 4, 5]
const PROBE_B: ReadonlyArray<number> = [0.5, -1, 2, 0.25, 8]

/** Creates a GPU in `mode` and proves it with a probe kernel; on failure destroys it and says why. */
const open = (mode: GpujsRunMode): Opened => {
  let gpu: GPU | undefined
  try {
    gpu = new GPU({ mode })
    if (gpu.mode !== mode) throw new Error(`gpu.js chose mode "${gpu.mode}"`)
    const device = new Device(gpu, mode)
    device.begin()
    const got = device.readNew(
      device.run(
        "probe",
        () => ({
          source: "function (a, b) { return a[this.thread.x] * b[this.thread.x] + 1; }",
          output: 5,
          constants: {}
        }),
        device.upload(Float32Array.from(PROBE_A)),
        device.upload(Float32Array.from(PROBE_B))
      ),
      5
    )
    if (device.fallbacks.length > 0) throw new Error(`probe kernel fell back to cpu: ${device.fallbacks[0].reason}`)
    for (let i = 0; i < 5; i++) {
      if (got[i] !== PROBE_A[i] * PROBE_B[i] + 1) {
        throw new Error(`probe kernel computed ${got[i]} at ${i}, expected ${PROBE_A[i] * PROBE_B[i] + 1}`)
      }
    }
    return { gpu, device }
  } catch (e) {
    void gpu?.destroy().catch(() => undefined)
    return { failure: `${mode}: ${e instanceof Error ? e.message : String(e)}` }
  }
}

const acquireGpu = (mode: GpujsRunMode) =>
  Effect.acquireRelease(
    Effect.sync(() => open(mode)),
    (opened) => "gpu" in opened ? Effect.promise(() => opened.gpu.destroy().catch(() => undefined)) : Effect.void
  )

const candidatesFor = (mode: GpujsMode): ReadonlyArray<GpujsRunMode> =>
  mode === "webasm" ? ["webasm", "cpu"] : mode === "cpu" ? ["cpu"] : ["headlessgl", "webasm", "cpu"]

/**
 * Opens the gpujs backend in `mode` (or the best mode below it) for the enclosing scope.
 * Fails only if not even gpu.js's cpu mode runs.
 */
export const makeGpujsKernels = (
  mode: GpujsMode,
  options: GpujsOptions = {}
): Effect.Effect<GpujsKernels, GpujsUnavailableError, Scope.Scope> =>
  Effect.gen(function*() {
    const reasons: Array<string> = []
    if (mode === "webgpu") reasons.push(yield* Effect.promise(webgpuUnavailableReason))
    for (const candidate of candidatesFor(mode)) {
      if (candidate === "headlessgl") {
        const glReason = yield* headlessGlUnavailableReason
        if (glReason !== undefined) {
          reasons.push(glReason)
          continue
        }
      }
      if (candidate === "webasm") {
        const wasmReason = webasmUnavailableReason()
        if (wasmReason !== undefined) {
          reasons.push(wasmReason)
          continue
        }
      }
      const opened = yield* acquireGpu(candidate)
      if ("failure" in opened) {
        reasons.push(opened.failure)
        continue
      }
      const kernels = makeBackend(opened.device, options.delegate ?? makeCpuKernels())
      const stepDown = candidate !== mode && !(mode === "gpu" && candidate === "headlessgl")
      return {
        kernels,
        requested: mode,
        mode: candidate,
        reason: stepDown ? reasons.join("; ") : undefined,
        device: opened.device
      } satisfies GpujsKernels
    }
    return yield* new GpujsUnavailableError({ requested: mode, reasons })
  })

/** Whether `s` names a gpujs mode (for decoding command-line and configuration values). */
export const isGpujsMode = (s: string): s is GpujsMode => (gpujsModes as ReadonlyArray<string>).includes(s)

/**
 * The `Kernels` service on the gpujs backend, held for the layer's lifetime. A step down from
 * the requested mode is logged as a warning with its reason, never silent.
 */
export const gpujsKernelsLayer = (
  mode: GpujsMode,
  options: GpujsOptions = {}
): Layer.Layer<Kernels, GpujsUnavailableError> =>
  Layer.effect(
    Kernels,
    Effect.gen(function*() {
      const g = yield* makeGpujsKernels(mode, options)
      if (g.reason !== undefined) yield* Effect.logWarning(`gpujs: requested ${mode}, running ${g.mode}: ${g.reason}`)
      return g.kernels
    })
  )
