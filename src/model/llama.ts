import { attention, type HeadLayout, rope } from "../autograd/ops/attention.ts"
import { add, mul, silu } from "../autograd/ops/elementwise.ts"
import { embedding } from "../autograd/ops/embedding.ts"
import { linear } from "../autograd/ops/linalg.ts"
import { rmsnorm } from "../autograd/ops/norm.ts"
import type { LanguageModel, LlamaConfig, ParamSpec } from "./model.ts"
import { type Forward, languageModel } from "./runner.ts"

const INIT_STD = 0.02

/**
 * Parameters in canonical (torchtitan) order, weights `[out, in]`.
 * Init: normal(0, 0.02) for the embedding and every matrix; the projections that write into the
 * residual stream (attention.wo, feed_forward.w2) are further scaled by 1/√(2·layers) so the
 * residual variance does not grow with depth (GPT-2 style); norm weights start at 1.
 */
export const llamaParams = (c: LlamaConfig): ReadonlyArray<ParamSpec> => {
  const matrix = (name: string, shape: ReadonlyArray<number>, std = INIT_STD): ParamSpec => ({
    name,
    shape,
    decay: true,
    init: { kind: "normal", std }
  })
  const norm = (name: string): ParamSpec => ({ name, shape: [c.dim], decay: false, init: { kind: "ones" } })
  const residualStd = INIT_STD / Math.sqrt(2 * c.layers)
  const specs: Array<ParamSpec> = [matrix("tok_embeddings.weight", [c.vocabSize, c.dim])]
  for (let i = 0; i < c.layers; i++) {
    const p = `layers.${i}`
    specs.push(
      norm(`${p}.attention_norm.weight`),
      matrix(`${p}.attention.wq.weight`, [c.dim, c.dim]),
      matrix(`${p}.attention.wk.weight`, [c.dim, c.dim]),
      matrix(`${p}.attention.wv.weight`, [c.dim, c.dim]),
      matrix(`${p}.attention.wo.weight`, [c.dim, c.dim], residualStd),
      norm(`${p}.ffn_norm.weight`),
      matrix(`${p}.feed_forward.w1.weight`, [c.ffnDim, c.dim]),
      matrix(`${p}.feed_forward.w2.weight`, [c.dim, c.ffnDim], residualStd),
      matrix(`${p}.feed_forward.w3.weight`, [c.ffnDim, c.dim])
    )
  }
  specs.push(norm("norm.weight"), matrix("output.weight", [c.vocabSize, c.dim]))
  return specs
}

/**
 * The reference decoder. Per layer:
 * `h = x + wo(attn(rope(wq·n1(x)), rope(wk·n1(x)), wv·n1(x)))`,
 * `out = h + w2(silu(w1·n2(h)) ⊙ w3·n2(h))`; then a final RMSNorm and the untied output head.
 * `c` holds the values of a decoded model configuration, whose checks guarantee positive sizes
 * and `heads` splitting `dim` into heads of even size (`config/consistency.ts`).
 */
export const makeLlama = (c: LlamaConfig): LanguageModel => {
  const headDim = c.dim / c.heads
  const forward: Forward = (t, param, ids, batch, len) => {
    const layout: HeadLayout = { batch, seqLen: len, heads: c.heads, headDim }
    let x = embedding(t, param("tok_embeddings.weight"), ids)
    for (let i = 0; i < c.layers; i++) {
      const p = `layers.${i}`
      const n1 = rmsnorm(t, x, param(`${p}.attention_norm.weight`), c.normEps)
      const q = rope(t, linear(t, n1, param(`${p}.attention.wq.weight`)), layout, c.ropeTheta)
      const k = rope(t, linear(t, n1, param(`${p}.attention.wk.weight`)), layout, c.ropeTheta)
      const v = linear(t, n1, param(`${p}.attention.wv.weight`))
      const h = add(t, x, linear(t, attention(t, q, k, v, layout), param(`${p}.attention.wo.weight`)))
      const n2 = rmsnorm(t, h, param(`${p}.ffn_norm.weight`), c.normEps)
      const gate = silu(t, linear(t, n2, param(`${p}.feed_forward.w1.weight`)))
      const up = linear(t, n2, param(`${p}.feed_forward.w3.weight`))
      x = add(t, h, linear(t, mul(t, gate, up), param(`${p}.feed_forward.w2.weight`)))
    }
    const n = rmsnorm(t, x, param("norm.weight"), c.normEps)
    return linear(t, n, param("output.weight"))
  }
  return languageModel({
    kind: "llama",
    config: c,
    vocabSize: c.vocabSize,
    seqLen: c.seqLen,
    params: llamaParams(c),
    forward
  })
}
