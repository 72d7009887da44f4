/**
 * Which gpu.js mode can run here, and why a requested one cannot.
 *
 * gpu.js picks a backend silently (its "gpu" mode becomes webasm when no GL context exists, and a
 * kernel that fails to compile quietly falls back to its cpu kernel). These probes decide the mode
 * up front, with a human-readable reason for every downgrade, so the backend can report what
 * actually runs.
 */
import { Effect, type Scope } from "effect"
import { GPU, HeadlessGLKernel } from "gpu.js"
import { createRequire } from "node:module"
import { acquireXvfbDisplay } from "./display.ts"
import type { GpujsMode, GpujsRunMode } from "./modeNames.ts"

export { type GpujsMode, gpujsModes, type GpujsRunMode } from "./modeNames.ts"

const require = createRequire(import.meta.url)

const glibcVersion = (): string | undefined => {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
  return header?.glibcVersionRuntime
}

/**
 * Why gpu.js's webgpu mode cannot serve this backend, or undefined if it could.
 *
 * Two independent obstacles: the Dawn build shipped in the `webgpu` package links against
 * glibc ≥ 2.38 (GLIBCXX_3.4.32), and gpu.js's webgpu kernels return Promises (readback needs
 * mapAsync), while the Kernels interface is synchronous. The first is reported when it applies
 * because it is the one a user can fix (a newer distribution).
 */
export const webgpuUnavailableReason = async (): Promise<string> => {
  try {
    await import("webgpu")
  } catch (e) {
    const message = e instanceof Error ? e.message.split("\n")[0] : String(e)
    if ((e as { code?: unknown } | null)?.code === "ERR_MODULE_NOT_FOUND") {
      return "webgpu: the `webgpu` package is not installed"
    }
    const glibc = glibcVersion()
    return `webgpu: the Dawn build in the \`webgpu\` package does not load (${message}); ` +
      `it needs glibc ≥ 2.38, this machine has ${glibc ? `glibc ${glibc}` : "no glibc"}`
  }
  return "webgpu: gpu.js webgpu kernels return Promises (mapAsync readback) and the Kernels interface is synchronous"
}

/** Why the `gl` package cannot be used at all (not installed, or its native build is missing). */
const glPackageUnavailableReason = (): string | undefined => {
  try {
    require.resolve("gl")
  } catch {
    return "headlessgl: the optional `gl` package is not installed (it builds from source: run " +
      "scripts/gl-deps.sh for its system libraries, then `npm install`; package.json allows its install script)"
  }
  try {
    require("gl")
  } catch (e) {
    return `headlessgl: the \`gl\` package does not load (${e instanceof Error ? e.message.split("\n")[0] : e}); ` +
      "its native build probably failed: run scripts/gl-deps.sh, then `npm rebuild gl`"
  }
  return undefined
}

type GlContext = { getExtension(n: string): unknown }
type CreateContext = (w: number, h: number, o?: object) => GlContext | null

const destroy = (context: GlContext): void =>
  (context.getExtension("STACKGL_destroy_context") as { destroy(): void } | null)?.destroy()

/**
 * Whether `gl` can create a context as things stand. A failed attempt does not hold ANGLE back:
 * it tries its X connection again at the next context, until one opens.
 */
const glContextOpens = (): boolean => {
  const context = (require("gl") as CreateContext)(1, 1)
  if (context === null) return false
  destroy(context)
  return true
}

/** Why headless GL cannot create a usable context, or undefined if it can; `display` is the one ANGLE was pointed at. */
const glContextUnavailableReason = (display: string | undefined): string | undefined => {
  const context = (require("gl") as CreateContext)(1, 1)
  if (context === null) {
    return `headlessgl: \`gl\` could not create a context${display ? ` on display ${display}` : " (no X display)"}`
  }
  const float = context.getExtension("OES_texture_float")
  destroy(context)
  if (!float) return "headlessgl: the GL context has no float textures (OES_texture_float)"
  // gpu.js caches its own probe at first use; it must agree with ours.
  if (!HeadlessGLKernel.isSupported) {
    return "headlessgl: gpu.js rejected the headless GL context (probed before a display existed?)"
  }
  return undefined
}

/**
 * Why headless GL cannot run here, or undefined if it can, for the enclosing scope. A context is
 * tried first as things stand: it opens when DISPLAY names a server, or when this process's ANGLE
 * is already connected to one (an earlier scope's: see display.ts). Only when it does not, on
 * Linux with DISPLAY unset, is a private Xvfb started for the scope.
 */
export const headlessGlUnavailableReason: Effect.Effect<string | undefined, never, Scope.Scope> = Effect.gen(
  function*() {
    const packageReason = glPackageUnavailableReason()
    if (packageReason !== undefined) return packageReason
    const given = process.env.DISPLAY
    if (glContextOpens() || given !== undefined || process.platform !== "linux") {
      return glContextUnavailableReason(given)
    }
    const xvfb = yield* acquireXvfbDisplay
    return "reason" in xvfb ? `headlessgl: ${xvfb.reason}` : glContextUnavailableReason(xvfb.display)
  }
)

export const webasmUnavailableReason = (): string | undefined =>
  GPU.isWebAssemblySupported ? undefined : "webasm: WebAssembly is not available in this runtime"
