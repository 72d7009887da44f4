/**
 * Checks the fused multiply-add build of the wasm matmul where the parent's runtime cannot run it:
 *
 *   node --experimental-wasm-relaxed-simd --import tsx test/support/fmaMatmulChild.ts
 *
 * Prints one JSON line: the variant this runtime picks by default, and whether the fused build's
 * bits differ from the plain one's on a long product (they do where the hardware fuses). Exits 1
 * with the mismatch on stderr when a product is outside the stated tolerance.
 */
import { defaultMatmulVariant, makeWasmMatmul } from "../../src/kernels/cpu/wasm/matmulWasm.ts"
import { checkBlockedAndSkinny, checkRaggedSizes, f32 } from "./matmulParity.ts"

const fused = makeWasmMatmul("fma")
checkRaggedSizes(fused, 100)
checkBlockedAndSkinny(fused)

const [m, n, k] = [16, 16, 300]
const a = f32(m * k, 60)
const b = f32(k * n, 61)
const viaFma = new Float32Array(m * n)
const viaSimd = new Float32Array(m * n)
fused(a, b, viaFma, m, n, k, false, false, false)
makeWasmMatmul("simd")(a, b, viaSimd, m, n, k, false, false, false)
const differs = viaFma.some((x, i) => x !== viaSimd[i])
process.stdout.write(JSON.stringify({ defaultVariant: defaultMatmulVariant, differs }) + "\n")
