/**
 * Reference matmuls from TensorFlow.js, so the kernel benchmark can show where continuum's own
 * matmul stands against a widely used library on the same machine.
 *
 * The TensorFlow.js packages are development dependencies: a production install lacks them, and
 * then no peer is offered and the reason says so — the benchmark never fails for it. They are
 * imported dynamically for the same reason.
 *
 * Two peers share one TensorFlow.js engine (the library keeps one global engine per process):
 * - "tfjs-cpu": `@tensorflow/tfjs-backend-cpu`, plain JavaScript loops;
 * - "tfjs-wasm": `@tensorflow/tfjs-backend-wasm` (XNNPACK compiled to WebAssembly). Its `.wasm`
 *   binaries are read from the installed package's `dist/` folder on disk, never fetched.
 * Each call first makes its own backend the active one (a synchronous switch once both have been
 * initialised, which loading does).
 *
 * B is always uploaded as `[k, n]`, transposed on the host while uploading when it is stored
 * `[n, k]`: the layout is the library user's free choice, and `tf.matMul(a, b, false, true)` on
 * the wasm backend runs about 12× slower than the same product with B as `[k, n]` (measured at
 * 256³, tfjs 4.22), which would understate the reference rather than measure it.
 */
import type * as TfCore from "@tensorflow/tfjs-core"
import { createRequire } from "node:module"
import * as path from "node:path"

export type TfjsPeerName = "tfjs-cpu" | "tfjs-wasm"

export const tfjsPeerNames: ReadonlyArray<TfjsPeerName> = ["tfjs-cpu", "tfjs-wasm"]

/** A product whose operands already live in the peer's memory; `run` is the part worth timing. */
export interface PreparedMatmul {
  /** `tf.matMul` on the uploaded operands, then `dataSync()` so the result is really computed; frees the result tensor. */
  run(): Float32Array
  /** Frees the operand tensors. Idempotent. */
  dispose(): void
}

export interface TfjsPeer {
  readonly name: TfjsPeerName
  /** TensorFlow.js version and how the backend runs here, e.g. "tfjs 4.22.0, wasm simd, 1 thread". */
  readonly detail: string
  /**
   * `C[m×n] = A·op(B)` with A stored `[m, k]` and B stored `[k, n]`, or `[n, k]` when transB
   * (the layouts of `KernelsShape.matmul`). Uploads, multiplies, reads back and frees everything.
   */
  matmul(a: Float32Array, b: Float32Array, m: number, n: number, k: number, transB?: boolean): Float32Array
  /** Uploads the operands once (B as `[k, n]`), for repeated timed `run` calls. */
  prepareMatmul(a: Float32Array, b: Float32Array, m: number, n: number, k: number, transB?: boolean): PreparedMatmul
  /** Tensors alive in the shared TensorFlow.js engine (for checking that nothing leaks). */
  tensorsInUse(): number
}

export interface TfjsPeerUnavailable {
  readonly name: TfjsPeerName
  readonly reason: string
}

export interface TfjsPeerReport {
  readonly peers: ReadonlyArray<TfjsPeer>
  readonly unavailable: ReadonlyArray<TfjsPeerUnavailable>
}

const backendOf: Record<TfjsPeerName, string> = { "tfjs-cpu": "cpu", "tfjs-wasm": "wasm" }

const errorText = (
  e: unknown
): string => (e instanceof Error
  ? e.message
  : typeof e === "object" && e !== null && "message" in e
  ? String(e.message)
  : String(e))

const isNotInstalled = (e: unknown): boolean =>
  typeof e === "object" && e !== null && "code" in e &&
  (e.code === "ERR_MODULE_NOT_FOUND" || e.code === "MODULE_NOT_FOUND")

const notInstalled = (pkg: string): string =>
  `${pkg} is not installed: it is a development dependency; install with dev dependencies to compare against TensorFlow.js`

const checkOperands = (a: Float32Array, b: Float32Array, m: number, n: number, k: number): void => {
  for (const [field, v] of [["m", m], ["n", n], ["k", k]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`matmul: ${field} must be a positive integer, got ${v}`)
  }
  if (a.length !== m * k) throw new RangeError(`matmul: a has length ${a.length}, expected m·k = ${m * k}`)
  if (b.length !== k * n) throw new RangeError(`matmul: b has length ${b.length}, expected k·n = ${k * n}`)
}

/** `[n, k]` → `[k, n]`. */
const transpose = (b: Float32Array, n: number, k: number): Float32Array => {
  const out = new Float32Array(n * k)
  for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[p * n + j] = b[j * k + p]
  return out
}

const makePeer = (tf: typeof TfCore, name: TfjsPeerName, detail: string): TfjsPeer => {
  const backend = backendOf[name]
  const activate = (): void => {
    if (tf.getBackend() === backend) return
    // Both backends were initialised while loading, so the engine switches before its first await.
    void tf.setBackend(backend)
    if (tf.getBackend() !== backend) {
      throw new Error(`${name}: could not make the "${backend}" backend active (active: "${tf.getBackend()}")`)
    }
  }
  const prepareMatmul = (
    a: Float32Array,
    b: Float32Array,
    m: number,
    n: number,
    k: number,
    transB = false
  ): PreparedMatmul => {
    checkOperands(a, b, m, n, k)
    activate()
    const ta = tf.tensor2d(a, [m, k], "float32")
    const tb = tf.tensor2d(transB ? transpose(b, n, k) : b, [k, n], "float32")
    let disposed = false
    return {
      run: () => {
        if (disposed) throw new Error(`${name}: matmul run after dispose`)
        activate()
        const c = tf.matMul(ta, tb)
        try {
          const data = c.dataSync()
          if (!(data instanceof Float32Array)) {
            throw new Error(`${name}: matmul returned ${c.dtype} data, expected float32`)
          }
          return data
        } finally {
          c.dispose()
        }
      },
      dispose: () => {
        if (disposed) return
        disposed = true
        ta.dispose()
        tb.dispose()
      }
    }
  }
  return {
    name,
    detail,
    matmul: (a, b, m, n, k, transB = false) => {
      const prepared = prepareMatmul(a, b, m, n, k, transB)
      try {
        // The cpu backend hands back its internal buffer; copy so the caller owns the result.
        return Float32Array.from(prepared.run())
      } finally {
        prepared.dispose()
      }
    },
    prepareMatmul,
    tensorsInUse: () => tf.memory().numTensors
  }
}

const load = async (): Promise<TfjsPeerReport> => {
  const all = (reason: string): TfjsPeerReport => ({
    peers: [],
    unavailable: tfjsPeerNames.map((name) => ({ name, reason }))
  })
  let tf: typeof TfCore
  try {
    tf = await import("@tensorflow/tfjs-core")
  } catch (e) {
    return all(
      isNotInstalled(e)
        ? notInstalled("@tensorflow/tfjs-core")
        : `@tensorflow/tfjs-core failed to load: ${errorText(e)}`
    )
  }
  const peers: Array<TfjsPeer> = []
  const unavailable: Array<TfjsPeerUnavailable> = []

  try {
    await import("@tensorflow/tfjs-backend-cpu")
    if (await tf.setBackend("cpu")) peers.push(makePeer(tf, "tfjs-cpu", `tfjs ${tf.version_core}, JavaScript`))
    else unavailable.push({ name: "tfjs-cpu", reason: "the TensorFlow.js cpu backend failed to initialise" })
  } catch (e) {
    unavailable.push({
      name: "tfjs-cpu",
      reason: isNotInstalled(e)
        ? notInstalled("@tensorflow/tfjs-backend-cpu")
        : `@tensorflow/tfjs-backend-cpu failed to load: ${errorText(e)}`
    })
  }

  try {
    const wasm = await import("@tensorflow/tfjs-backend-wasm")
    // Point the backend at the binaries inside the installed package (a folder prefix ending in
    // the separator); in Node they are then read with fs, so nothing is fetched at run time.
    const entry = createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm")
    wasm.setWasmPaths(path.dirname(entry) + path.sep)
    if (await tf.setBackend("wasm")) {
      const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")
      const threads = wasm.getThreadsCount()
      peers.push(
        makePeer(
          tf,
          "tfjs-wasm",
          `tfjs ${wasm.version_wasm}, wasm${simd ? " simd" : ""}, ${threads} thread${threads === 1 ? "" : "s"}`
        )
      )
    } else {
      unavailable.push({
        name: "tfjs-wasm",
        reason: "the TensorFlow.js wasm backend failed to initialise (its .wasm binary could not be loaded)"
      })
    }
  } catch (e) {
    unavailable.push({
      name: "tfjs-wasm",
      reason: isNotInstalled(e)
        ? notInstalled("@tensorflow/tfjs-backend-wasm")
        : `@tensorflow/tfjs-backend-wasm failed to load: ${errorText(e)}`
    })
  }
  // Production mode: what a deployed user runs, and it silences the cpu backend's first-use banner
  // (advice to install the native Node backend), which would interleave with benchmark output.
  // Set only after both backends initialised, so an initialisation failure still prints its warning.
  tf.enableProdMode()
  return { peers, unavailable }
}

let loaded: Promise<TfjsPeerReport> | undefined

/**
 * The TensorFlow.js peers that load here, and why the others do not. Never rejects. Loaded once
 * per process (the TensorFlow.js engine is global).
 */
export const probeTfjsPeers = (): Promise<TfjsPeerReport> => (loaded ??= load())
