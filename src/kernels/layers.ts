import { Layer } from "effect"
import { cpuKernels } from "./cpu/index.ts"
import { Kernels } from "./Kernels.ts"

/** The cpu reference backend. */
export const cpuKernelsLayer: Layer.Layer<Kernels> = Layer.succeed(Kernels, cpuKernels)
