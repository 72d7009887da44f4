/**
 * One full training step of the default model (forward + backward + clipping + AdamW) per
 * backend: median ms per step after warm-up, and tokens per second.
 *
 *   node --import tsx bench/step.ts [--steps=N] [--warmup=N] [--cpu-only]
 */
import { Effect } from "effect"
import { runStepBench } from "../src/bench/step.ts"

const arg = (name: string, fallback: number): number => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`))
  return hit === undefined ? fallback : Number(hit.slice(name.length + 3))
}
const cpuOnly = process.argv.includes("--cpu-only")
const rows = await Effect.runPromise(runStepBench({
  modes: cpuOnly ? [] : ["headlessgl", "webasm", "cpu"],
  steps: arg("steps", 30),
  warmup: arg("warmup", 5)
}))
console.log("default llama (V=256, d=64, 2 layers, 4 heads, f=176, T=64, B=16), 1024 tokens/step")
console.table(Object.fromEntries(rows.map((r) => [r.backend, {
  "ms/step": +r.msPerStep.toFixed(1),
  "fwd+bwd ms": +r.msForwardBackward.toFixed(1),
  "clip+AdamW ms": +r.msClipAndUpdate.toFixed(2),
  "tokens/s": Math.round(r.tokensPerSec),
  steps: r.steps
}])))
