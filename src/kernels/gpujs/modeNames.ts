/** The gpu.js modes by name, apart from gpu.js itself: the CLI lists them without loading it. */

/** The modes a caller may ask for. */
export type GpujsMode = "gpu" | "headlessgl" | "webgpu" | "webasm" | "cpu"
/** The modes that can actually run a synchronous kernel in Node. */
export type GpujsRunMode = "headlessgl" | "webasm" | "cpu"

export const gpujsModes: ReadonlyArray<GpujsMode> = ["gpu", "headlessgl", "webgpu", "webasm", "cpu"]
