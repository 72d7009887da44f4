/**
 * One full training step of the default model on the cpu backend: forward + backward
 * (lossAndGrad), global-norm clipping and an AdamW update. Reports the median time per step
 * after warm-up, tokens per second, and a per-phase split.
 *
 *   node --import tsx bench/step.ts [--steps=N] [--warmup=N]
 */
import { cpuKernels as k } from "../src/kernels/cpu/index.ts"
import { zerosFor } from "../src/model/init.ts"
import { makeLlama } from "../src/model/llama.ts"
import type { LlamaConfig } from "../src/model/model.ts"
import { adamw } from "../src/optim/adamw.ts"
import { clipGradNorm } from "../src/optim/clip.ts"
import { bits32 } from "../src/tensor/rng.ts"

const arg = (name: string, fallback: number): number => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`))
  return hit === undefined ? fallback : Number(hit.slice(name.length + 3))
}

const config: LlamaConfig = {
  vocabSize: 256, dim: 64, layers: 2, heads: 4, ffnDim: 176, seqLen: 64, normEps: 1e-5, ropeTheta: 10000
}
const batch = 16
const steps = arg("steps", 30)
const warmup = arg("warmup", 5)

const model = makeLlama(config)
const params = model.init(0)
const grads = zerosFor(model.params)
const rule = adamw({ lr: 3e-3, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 })
const state = rule.init(params)
const n = batch * config.seqLen
const ids = Int32Array.from({ length: n }, (_, i) => bits32(1, 0, i) % config.vocabSize)
const targets = Int32Array.from({ length: n }, (_, i) => bits32(1, 1, i) % config.vocabSize)

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const total: Array<number> = []
const fwdBwd: Array<number> = []
const update: Array<number> = []
let loss = 0
for (let i = 0; i < warmup + steps; i++) {
  const t0 = performance.now()
  loss = model.lossAndGrad(k, params, ids, targets, batch, 1 / n, grads) / n
  const t1 = performance.now()
  clipGradNorm(k, grads, 1)
  rule.update(k, params, grads, 3e-3, state, model.params)
  const t2 = performance.now()
  if (i >= warmup) {
    total.push(t2 - t0)
    fwdBwd.push(t1 - t0)
    update.push(t2 - t1)
  }
}

const ms = median(total)
const paramCount = model.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0)
console.log(`default llama (V=256, d=64, 2 layers, 4 heads, f=176, T=64, B=16): ${paramCount} parameters, ${n} tokens/step`)
console.log(`${steps} timed steps after ${warmup} warm-up, final loss ${loss.toFixed(4)}`)
console.table({
  "step (median)": { ms: +ms.toFixed(1), "tokens/s": Math.round(n / (ms / 1000)) },
  "forward+backward": { ms: +median(fwdBwd).toFixed(1), "tokens/s": null },
  "clip+AdamW": { ms: +median(update).toFixed(2), "tokens/s": null },
  "step (min)": { ms: +Math.min(...total).toFixed(1), "tokens/s": Math.round(n / (Math.min(...total) / 1000)) }
})
