/**
 * Compiles the WebAssembly text sources of the cpu backend into TypeScript modules that embed
 * the binary as base64, so the runtime needs no compiler and no file access:
 *
 *   src/kernels/cpu/wasm/matmul.wat → src/kernels/cpu/wasm/matmulWasm.generated.ts
 *   src/kernels/cpu/wasm/vector.wat → src/kernels/cpu/wasm/vectorWasm.generated.ts
 *
 *   node --import tsx scripts/build-wasm.ts
 *
 * The generated files are committed; test/kernels/wasmMatmul.test.ts and wasmVector.test.ts
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

/** Assembles WebAssembly text (SIMD and bulk memory enabled) into a validated binary. */
export const assembleWat = async (fileName: string, source: string): Promise<Uint8Array> => {
  const wabt = await wabtInit()
  const module = wabt.parseWat(fileName, source, { simd: true, bulk_memory: true })
  try {
    module.validate()
    return module.toBinary({}).buffer
  } finally {
    module.destroy()
  }
}

/** The text of the generated TypeScript module for the given binary. */
export const renderGeneratedModule = (binary: Uint8Array, name: string): string => {
  const base64 = Buffer.from(binary).toString("base64")
  const lines = base64.match(/.{1,100}/g) ?? []
  return [
    "// GENERATED FILE — do not edit.",
    `// Compiled from src/kernels/cpu/wasm/${name}.wat by scripts/build-wasm.ts; regenerate with`,
    "//   node --import tsx scripts/build-wasm.ts",
    "",
    `/** The ${name} WebAssembly module (${binary.length} bytes), base64-encoded. */`,
    `export const ${name}WasmBase64 =`,
    lines.map((line) => `  "${line}"`).join(" +\n"),
    ""
  ].join("\n")
}

/** What the generated module should contain, from the current .wat source. */
export const buildMatmulModule = async (): Promise<string> =>
  renderGeneratedModule(await assembleWat("matmul.wat", await readFile(matmulWatPath, "utf8")), "matmul")

/** What the generated vector-kernel module should contain, from the current .wat source. */
export const buildVectorModule = async (): Promise<string> =>
  renderGeneratedModule(await assembleWat("vector.wat", await readFile(vectorWatPath, "utf8")), "vector")

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeFile(matmulGeneratedPath, await buildMatmulModule())
  console.log(`wrote ${matmulGeneratedPath}`)
  await writeFile(vectorGeneratedPath, await buildVectorModule())
  console.log(`wrote ${vectorGeneratedPath}`)
}
