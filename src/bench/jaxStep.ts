/**
 * The step benchmark's jax-js peer: the model of peerStep.ts written with jax-js (`@jax-js/jax`, a
 * development dependency) on its wasm device, the whole step — forward, `valueAndGrad`,
 * clipping and AdamW — under one `jit`, the way jax is meant to be used. Attention is written from
 * batched `matmul` and `softmax` (its `einsum`-based attention needs a newer Node than 20).
 *
 * jax-js moves ownership of every array passed to an operation (`.ref` keeps one), so each value
 * used twice is taken with `.ref` first; the step consumes the parameters and moments and returns
 * new ones.
 */
import type * as JaxModule from "@jax-js/jax"
import type { PeerStepInput, StepPeer } from "./peerStep.ts"
import { timePeerSteps } from "./peerStep.ts"

type Jax = typeof JaxModule
type Arr = JaxModule.Array

/** The jax-js step for `input`: returns a function that runs one step and resolves to its loss. */
const buildStep = (jax: Jax, input: PeerStepInput): () => Promise<number> => {
  const { jit, nn, numpy: np, tree, valueAndGrad } = jax
  const { batch: B, config } = input
  const { dim: d, heads: H, normEps, seqLen: T, vocabSize: V } = config
  const hd = d / H
  const N = B * T
  const index = new Map(input.params.map((p, i) => [p.name, i]))
  const at = (name: string): number => {
    const i = index.get(name)
    if (i === undefined) throw new Error(`jax-js peer: no parameter ${name}`)
    return i
  }

  const rmsnorm = (x: Arr, w: Arr): Arr =>
    x.ref.mul(np.reciprocal(np.sqrt(np.mean(np.square(x), -1, { keepdims: true }).add(normEps)))).mul(w)
  /** `x·Wᵀ` for W stored `[out, in]`. */
  const linear = (x: Arr, w: Arr): Arr => np.matmul(x, np.transpose(w))
  /** RoPE on `[N, d]` viewed as `[B, T, d/2, 2]`: pairs (2i, 2i+1) rotated by the angle of their position. */
  const rope = (x: Arr, cos: Arr, sin: Arr): Arr => {
    const [x0, x1] = np.split(x.reshape([B, T, d / 2, 2]), 2, -1)
    return np.concatenate([
      x0.ref.mul(cos.ref).sub(x1.ref.mul(sin.ref)),
      x0.mul(sin).add(x1.mul(cos))
    ], -1).reshape([N, d])
  }
  const heads = (x: Arr): Arr => np.transpose(x.reshape([B, T, H, hd]), [0, 2, 1, 3])

  const loss = (ps: Array<Arr>, ids: Arr, targets: Arr, cos: Arr, sin: Arr, mask: Arr): Arr => {
    const p = (name: string): Arr => ps[at(name)]
    let x = np.take(p("tok_embeddings.weight"), ids, 0)
    for (let i = 0; i < config.layers; i++) {
      const l = (name: string): Arr => p(`layers.${i}.${name}`)
      const n1 = rmsnorm(x.ref, l("attention_norm.weight"))
      const q = heads(rope(linear(n1.ref, l("attention.wq.weight")), cos.ref, sin.ref))
      const k = heads(rope(linear(n1.ref, l("attention.wk.weight")), cos.ref, sin.ref))
      const v = heads(linear(n1, l("attention.wv.weight")))
      const scores = np.matmul(q, np.swapaxes(k, -1, -2)).mul(1 / Math.sqrt(hd)).add(mask.ref)
      const attended = np.transpose(np.matmul(nn.softmax(scores, -1), v), [0, 2, 1, 3]).reshape([N, d])
      const h = x.add(linear(attended, l("attention.wo.weight")))
      const n2 = rmsnorm(h.ref, l("ffn_norm.weight"))
      const gated = nn.silu(linear(n2.ref, l("feed_forward.w1.weight"))).mul(linear(n2, l("feed_forward.w3.weight")))
      x = h.add(linear(gated, l("feed_forward.w2.weight")))
    }
    cos.dispose()
    sin.dispose()
    mask.dispose()
    const logits = linear(rmsnorm(x, p("norm.weight")), p("output.weight"))
    return np.mean(np.sum(nn.logSoftmax(logits, -1).mul(nn.oneHot(targets, V)), -1)).mul(-1)
  }

  const { beta1, beta2, eps, lr, weightDecay } = input.adamw
  const decays = input.params.map((p) => p.decay)
  const step = jit((
    ps: Array<Arr>,
    ms: Array<Arr>,
    vs: Array<Arr>,
    ids: Arr,
    targets: Arr,
    cos: Arr,
    sin: Arr,
    mask: Arr,
    bc1: Arr,
    bc2: Arr
  ) => {
    const [value, grads] = valueAndGrad(loss)(tree.ref(ps), ids, targets, cos, sin, mask)
    const norm = np.sqrt(grads.map((g) => np.sum(np.square(g.ref))).reduce((a, b) => a.add(b)))
    const scale = np.minimum(np.reciprocal(norm.add(1e-6)).mul(input.clipNorm), 1)
    const next = grads.map((g, i) => {
      const clipped = g.mul(scale.ref)
      const m = ms[i].mul(beta1).add(clipped.ref.mul(1 - beta1))
      const v = vs[i].mul(beta2).add(np.square(clipped).mul(1 - beta2))
      const update = m.ref.div(bc1.ref).div(np.sqrt(v.ref.div(bc2.ref)).add(eps))
      const param = ps[i].mul(decays[i] ? 1 - lr * weightDecay : 1).sub(update.mul(lr))
      return { param, m, v }
    })
    scale.dispose()
    bc1.dispose()
    bc2.dispose()
    return [value, next.map((n) => n.param), next.map((n) => n.m), next.map((n) => n.v)] as [
      Arr,
      Array<Arr>,
      Array<Arr>,
      Array<Arr>
    ]
  })

  let params = input.params.map((p) => np.array(p.data).reshape([...p.shape]))
  let moments = input.params.map((p) => np.zeros([...p.shape]))
  let squares = input.params.map((p) => np.zeros([...p.shape]))
  const ids = np.array(input.ids, { dtype: np.int32 }).reshape([N])
  const targets = np.array(input.targets, { dtype: np.int32 }).reshape([N])
  // RoPE tables per pair of the whole row [T, d/2, 1]: heads repeat the [T, hd/2] table.
  const perRow = (table: Float32Array): Arr => {
    const out = new Float32Array(T * d / 2)
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < d / 2; j++) out[t * d / 2 + j] = table[t * hd / 2 + (j % (hd / 2))]
    }
    return np.array(out).reshape([T, d / 2, 1])
  }
  const cos = perRow(input.ropeCos)
  const sin = perRow(input.ropeSin)
  const causal = new Float32Array(T * T)
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) causal[i * T + j] = -1e30
  const mask = np.array(causal).reshape([T, T])
  let count = 0
  return async () => {
    count++
    const [value, nextParams, nextMoments, nextSquares] = step(
      params,
      moments,
      squares,
      ids.ref,
      targets.ref,
      cos.ref,
      sin.ref,
      mask.ref,
      np.array([1 - beta1 ** count]),
      np.array([1 - beta2 ** count])
    )
    params = nextParams
    moments = nextMoments
    squares = nextSquares
    await jax.blockUntilReady([params, moments, squares])
    return (await value.data())[0]
  }
}

/** The jax-js peer, or the reason it cannot run (not installed, or no wasm device). */
export const loadJaxPeer = async (): Promise<StepPeer> => {
  const jax: Jax = await import("@jax-js/jax")
  // Node 20 has no WebGPU: start the wasm device alone and make it the default.
  const devices = await jax.init("wasm")
  if (!devices.includes("wasm")) throw new Error(`jax-js started no wasm device (devices: ${devices.join(", ")})`)
  jax.defaultDevice("wasm")
  const detail = "jax-js, wasm device, whole step under jit"
  return {
    name: "jax-js",
    detail,
    time: (input, steps, warmup, continuum) =>
      timePeerSteps({ name: "jax-js", detail }, buildStep(jax, input), steps, warmup, continuum)
  }
}
