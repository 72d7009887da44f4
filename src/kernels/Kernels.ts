import { Context } from "effect"
import type { KernelsShape } from "./KernelsShape.ts"

/** The numeric backend of a run (cpu or gpujs); see KernelsShape. */
export class Kernels extends Context.Service<Kernels, KernelsShape>()("continuum/Kernels") {}
