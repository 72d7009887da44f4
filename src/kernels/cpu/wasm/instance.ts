/** Instantiating the cpu backend's embedded WebAssembly modules over their shared memory. */

/** A shared WebAssembly memory (the project's `lib` does not declare the WebAssembly API). */
export interface SharedWasmMemory {
  readonly buffer: SharedArrayBuffer
  /** Adds `pages` pages of 64 KiB; returns the size in pages before (atomic across threads). */
  grow(pages: number): number
}
interface WasmApi {
  readonly validate: (bytes: Uint8Array) => boolean
  readonly Module: new(bytes: Uint8Array) => object
  readonly Instance: new(module: object, imports: object) => { readonly exports: Record<string, unknown> }
  readonly Memory: new(
    descriptor: { readonly initial: number; readonly maximum: number; readonly shared: true }
  ) => SharedWasmMemory
}

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

/** A fresh shared memory of `initial` pages that may grow to `maximum`. */
export const sharedMemory = (initial: number, maximum: number): SharedWasmMemory =>
  new (wasmApi().Memory)({ initial, maximum, shared: true })

/** Whether `u` is a shared WebAssembly memory (as a rank receives it in a message). */
export const isSharedWasmMemory = (u: unknown): u is SharedWasmMemory => {
  const api = wasmApi()
  return u instanceof (api.Memory as unknown as new(...args: Array<never>) => object) &&
    (u as SharedWasmMemory).buffer instanceof SharedArrayBuffer
}

/**
 * An instance of the module whose binary is `base64` over `memory` (every module imports its
 * memory as `env.memory`), compiled and instantiated synchronously (the binaries are a few KB).
 */
export const instantiate = (base64: string, memory: SharedWasmMemory): Record<string, unknown> => {
  const api = wasmApi()
  return new api.Instance(new api.Module(decodeBase64(base64)), { env: { memory } }).exports
}
