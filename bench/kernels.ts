/**
 * Kernel benchmarks from the command line (the same measurement as `continuum bench`).
 *
 *   node --import tsx bench/kernels.ts [--quick] [--modes=headlessgl,webasm] [--families=matmul,attention] [--json=FILE]
 */
import { writeFileSync } from "node:fs"
import { Effect } from "effect"
import { fmt, formatKernelBench, type KernelFamily, kernelFamilies, runKernelBench } from "../src/bench/kernels.ts"
import { type GpujsMode, gpujsModes, isGpujsMode } from "../src/kernels/gpujs/index.ts"



const main = async () => {
  const args = process.argv.slice(2)
  const flag = (name: string) => args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  const list = (name: string) => flag(name)?.split("=")[1]?.split(",").filter((s) => s.length > 0)
  const modes = list("modes")
  const fams = list("families")
  for (const m of modes ?? []) if (!isGpujsMode(m)) throw new Error(`--modes: unknown gpu.js mode "${m}" (known: ${gpujsModes.join(", ")})`)
  for (const f of fams ?? []) {
    if (!(kernelFamilies as ReadonlyArray<string>).includes(f)) {
      throw new Error(`--families: unknown family "${f}" (known: ${kernelFamilies.join(", ")})`)
    }
  }
  const result = await Effect.runPromise(runKernelBench({
    modes: modes as Array<GpujsMode> | undefined,
    families: fams as Array<KernelFamily> | undefined,
    scale: flag("quick") ? "quick" : "full",
    onRow: (r) => process.stderr.write(`  ${r.family} ${r.size} ${r.backend}: ${r.skipped ?? `${fmt(r.msPerCall, 3)} ms`}\n`)
  }))
  console.log(formatKernelBench(result))
  const json = flag("json")?.split("=")[1]
  if (json) writeFileSync(json, JSON.stringify(result, null, 2))
}

await main()
