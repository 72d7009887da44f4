import { Layer } from "effect"
import type { KernelsConfig } from "../config/RunConfig.ts"
import { makeCpuKernels } from "./cpu/index.ts"
import { gpujsKernelsLayer } from "./gpujs/index.ts"
import { Kernels } from "./Kernels.ts"

/** The cpu reference backend: one instance, with its own working memory, per build of the layer. */
export const cpuKernelsLayer: Layer.Layer<Kernels> = Layer.sync(Kernels, makeCpuKernels)

/** The backend a run configuration asks for; gpujs reports the mode that actually runs. */
export const kernelsLayerFor = (config: KernelsConfig) =>
  config.backend === "cpu" ? cpuKernelsLayer : gpujsKernelsLayer(config.mode)
