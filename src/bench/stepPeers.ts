/**
 * The step benchmark's peers: the same training step (peerStep.ts) in TensorFlow.js wasm and in
 * jax-js, timed in the same process as continuum's so that one run shows them side by side.
 * Both libraries are development dependencies, imported dynamically: a peer that is not
 * installed, fails to load or fails while running is skipped with the reason, never failing the
 * benchmark.
 */
import { makeCpuKernels } from "../kernels/cpu/index.ts"
import type { LlamaConfig } from "../model/model.ts"
import type { OnProgress } from "../tensor/progress.ts"
import { loadJaxPeer } from "./jaxStep.ts"
import { peerStepInput, type PeerStepTiming, type StepPeer } from "./peerStep.ts"
import { prepareReferenceStep } from "./step.ts"
import { loadTfjsPeer } from "./tfjsStep.ts"

export interface PeerUnavailable {
  readonly peer: string
  readonly reason: string
}

export interface StepPeersReport {
  readonly rows: ReadonlyArray<PeerStepTiming>
  readonly unavailable: ReadonlyArray<PeerUnavailable>
}

const loaders: ReadonlyArray<readonly [string, string, () => Promise<StepPeer>]> = [
  ["tfjs-wasm", "@tensorflow/tfjs-core and @tensorflow/tfjs-backend-wasm", loadTfjsPeer],
  ["jax-js", "@jax-js/jax", loadJaxPeer]
]

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split("\n")[0]

const notInstalled = (e: unknown): boolean =>
  typeof e === "object" && e !== null && "code" in e &&
  (e.code === "ERR_MODULE_NOT_FOUND" || e.code === "MODULE_NOT_FOUND")

/**
 * Each peer's step on `config` at `batch`: `steps` timed after `warmup` untimed ones, each
 * followed by continuum's cpu step on the same model, timed alternately with it. Never rejects.
 */
export const runStepPeers = async (
  options: {
    readonly config: LlamaConfig
    readonly batch: number
    readonly steps: number
    readonly warmup: number
    readonly onProgress?: OnProgress | undefined
  }
): Promise<StepPeersReport> => {
  const input = peerStepInput(options.config, options.batch)
  const kernels = makeCpuKernels()
  const reference = prepareReferenceStep(options.config, kernels.storage)
  const continuum = (): void => {
    reference.forwardBackward(kernels)
    reference.clipAndUpdate(kernels)
  }
  const rows: Array<PeerStepTiming> = []
  const unavailable: Array<PeerUnavailable> = []
  for (const [i, [peer, packages, load]] of loaders.entries()) {
    options.onProgress?.({ task: "bench step peers", done: i, total: loaders.length, unit: "items", detail: peer })
    let loaded: StepPeer
    try {
      loaded = await load()
    } catch (e) {
      unavailable.push({
        peer,
        reason: notInstalled(e)
          ? `${packages} not installed (development dependencies)`
          : `failed to load: ${messageOf(e)}`
      })
      continue
    }
    try {
      rows.push(await loaded.time(input, options.steps, options.warmup, continuum))
    } catch (e) {
      unavailable.push({ peer, reason: `failed while running: ${messageOf(e)}` })
    }
  }
  options.onProgress?.({ task: "bench step peers", done: loaders.length, total: loaders.length, unit: "items" })
  return { rows, unavailable }
}
