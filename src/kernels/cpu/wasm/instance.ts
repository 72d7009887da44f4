/** Instantiating the cpu backend's embedded WebAssembly modules, and growing their memory. */

/** The part of the WebAssembly JavaScript API used here (the project's `lib` does not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
interface WasmApi {
  readonly validate: (bytes: Uint8Array) => boolean
  readonly Module: new(bytes: Uint8Array) => object
  readonly Instance: new(module: object, imports: object) => { readonly exports: Record<string, unknown> }
}

const PAGE = 65536

const decodeBase64 = (text: string): Uint8Array => {
  const raw = atob(text)
  const bytes = new Uint8Array(raw.length)
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i)
  return bytes
}

const wasmApi = (): WasmApi => (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly

/**
 * Whether this runtime accepts the module whose binary is `base64` (e.g. one using a proposal
 * that a runtime supports only behind a flag), checked without compiling it.
 */
export const validates = (base64: string): boolean => wasmApi().validate(decodeBase64(base64))

/**
 * A fresh instance (with its own memory) of the module whose binary is `base64`, compiled and
 * instantiated synchronously (the binaries are a few KB).
 */
export const instantiate = (
  base64: string
): { readonly exports: Record<string, unknown>; readonly memory: WasmMemory } => {
  const api = wasmApi()
  const instance = new api.Instance(new api.Module(decodeBase64(base64)), {})
  return { exports: instance.exports, memory: instance.exports.memory as WasmMemory }
}

/** Grows `memory` to at least `bytes`; returns whether it grew (views of the old buffer are then detached). */
export const ensureBytes = (memory: WasmMemory, bytes: number): boolean => {
  if (memory.buffer.byteLength >= bytes) return false
  memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE))
  return true
}
