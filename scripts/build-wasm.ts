/**
 * Compiles the WebAssembly text sources of the cpu backend into TypeScript modules that embed
 * the binary as base64, so the runtime needs no compiler and no file access:
 *
 *   src/kernels/cpu/wasm/matmul.wat → src/kernels/cpu/wasm/matmulWasm.generated.ts
 *     (twice: plain SIMD, and with the micro-kernel's multiply-adds fused by relaxed SIMD)
 *   src/kernels/cpu/wasm/vector.wat → src/kernels/cpu/wasm/vectorWasm.generated.ts
 *   src/kernels/cpu/wasm/params.wat → src/kernels/cpu/wasm/paramsWasm.generated.ts
 *
 *   node --import tsx scripts/build-wasm.ts
 *
 * The generated files are committed; test/kernels/wasmMatmul.test.ts, wasmVector.test.ts and wasmParams.test.ts
 * check that they still equal what this script produces from the .wat sources.
 */
import { readFile, writeFile } from "node:fs/promises"
import { fileURLToPath, pathToFileURL } from "node:url"
import wabtInit from "wabt"

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

export const matmulWatPath = here("../src/kernels/cpu/wasm/matmul.wat")
export const matmulGeneratedPath = here("../src/kernels/cpu/wasm/matmulWasm.generated.ts")
export const vectorWatPath = here("../src/kernels/cpu/wasm/vector.wat")
export const vectorGeneratedPath = here("../src/kernels/cpu/wasm/vectorWasm.generated.ts")
export const paramsWatPath = here("../src/kernels/cpu/wasm/params.wat")
export const paramsGeneratedPath = here("../src/kernels/cpu/wasm/paramsWasm.generated.ts")

/**
 * Assembles WebAssembly text into a validated binary: SIMD, bulk memory and threads (the modules
 * import one shared memory) enabled, relaxed SIMD when asked.
 */
export const assembleWat = async (
  fileName: string,
  source: string,
  options: { readonly relaxedSimd?: boolean } = {}
): Promise<Uint8Array> => {
  const wabt = await wabtInit()
  const features = { simd: true, bulk_memory: true, threads: true, relaxed_simd: options.relaxedSimd === true }
  const module = wabt.parseWat(fileName, source, features)
  try {
    // The typings omit validate's features argument; without it, shared memories are refused.
    ;(module as unknown as { validate(features: object): void }).validate(features)
    return module.toBinary({}).buffer
  } finally {
    module.destroy()
  }
}

/** The micro-kernel's multiply-add, `c + a·b`, in the one form matmul.wat writes it. */
const multiplyAdd =
  /\(f32x4\.add \(local\.get (\$c\d\d)\) \(f32x4\.mul \(local\.get (\$a)\) \(local\.get (\$b\d)\)\)\)/g

/**
 * matmul.wat with each multiply-add of its micro-kernel fused into `f32x4.relaxed_madd` (one
 * rounding instead of two where the hardware has FMA). Fails when the text has none, so an edit
 * that changes their form cannot silently ship two identical modules.
 */
export const fuseMultiplyAdds = (source: string): string => {
  let count = 0
  const fused = source.replace(multiplyAdd, (_, c: string, a: string, b: string) => {
    count++
    return `(f32x4.relaxed_madd (local.get ${a}) (local.get ${b}) (local.get ${c}))`
  })
  if (count === 0) throw new Error("matmul.wat: no `(f32x4.add (local.get $cRJ) (f32x4.mul …))` to fuse")
  return fused
}

/** One binary embedded by a generated module: the exported constant's name and what it holds. */
interface Embedded {
  readonly constName: string
  readonly what: string
  readonly binary: Uint8Array
}

/** The text of the generated TypeScript module embedding the binaries compiled from `name`.wat. */
export const renderGeneratedModule = (name: string, embedded: ReadonlyArray<Embedded>): string =>
  [
    "// GENERATED FILE — do not edit.",
    `// Compiled from src/kernels/cpu/wasm/${name}.wat by scripts/build-wasm.ts; regenerate with`,
    "//   node --import tsx scripts/build-wasm.ts",
    ...embedded.flatMap(({ binary, constName, what }) => {
      const lines = Buffer.from(binary).toString("base64").match(/.{1,100}/g) ?? []
      return [
        "",
        `/** ${what} (${binary.length} bytes), base64-encoded. */`,
        `export const ${constName} =`,
        lines.map((line) => `  "${line}"`).join(" +\n")
      ]
    }),
    ""
  ].join("\n")

/** What the generated matmul module should contain (plain SIMD and fused multiply-add), from the current .wat source. */
export const buildMatmulModule = async (): Promise<string> => {
  const source = await readFile(matmulWatPath, "utf8")
  return renderGeneratedModule("matmul", [
    {
      constName: "matmulWasmBase64",
      what: "The matmul WebAssembly module",
      binary: await assembleWat("matmul.wat", source)
    },
    {
      constName: "matmulRelaxedWasmBase64",
      what: "The same module with the micro-kernel's multiply-adds fused (`f32x4.relaxed_madd`, relaxed SIMD)",
      binary: await assembleWat("matmul.wat", fuseMultiplyAdds(source), { relaxedSimd: true })
    }
  ])
}

/** What the generated vector-kernel module should contain, from the current .wat source. */
export const buildVectorModule = async (): Promise<string> =>
  renderGeneratedModule("vector", [{
    constName: "vectorWasmBase64",
    what: "The vector WebAssembly module",
    binary: await assembleWat("vector.wat", await readFile(vectorWatPath, "utf8"))
  }])

/** What the generated parameter-kernel module should contain, from the current .wat source. */
export const buildParamsModule = async (): Promise<string> =>
  renderGeneratedModule("params", [{
    constName: "paramsWasmBase64",
    what: "The params WebAssembly module (AdamW, SGD, embedding gather and scatter-add)",
    binary: await assembleWat("params.wat", await readFile(paramsWatPath, "utf8"))
  }])

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeFile(matmulGeneratedPath, await buildMatmulModule())
  console.log(`wrote ${matmulGeneratedPath}`)
  await writeFile(vectorGeneratedPath, await buildVectorModule())
  console.log(`wrote ${vectorGeneratedPath}`)
  await writeFile(paramsGeneratedPath, await buildParamsModule())
  console.log(`wrote ${paramsGeneratedPath}`)
}
