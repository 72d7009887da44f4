/**
 * The step benchmark's TensorFlow.js peer: the model of peerStep.ts written with
 * `@tensorflow/tfjs-core` on the `@tensorflow/tfjs-backend-wasm` backend (XNNPACK; development
 * dependencies, loaded through peers.ts), the way a TensorFlow.js user writes a training step:
 * variables, `tf.variableGrads` for the gradients, the clipped AdamW update as tensor ops assigned
 * to the variables, all inside `tf.tidy`.
 *
 * Weights are stored `[in, out]`, so the forward products are `x·W` (tfjs-wasm runs a product
 * with a transposed second operand about 12× slower, see peers.ts); attention's `Kᵀ` is
 * transposed explicitly for the same reason.
 */
import type * as TfCore from "@tensorflow/tfjs-core"
import { probeTfjsPeers } from "./peers.ts"
import type { PeerStepInput, StepPeer } from "./peerStep.ts"
import { timePeerSteps } from "./peerStep.ts"
import { registerStepGradients } from "./tfjsGradients.ts"

type Tf = typeof TfCore
type T = TfCore.Tensor

/** Variable names are global to the TensorFlow.js engine: each built step takes fresh ones. */
let built = 0

/** `[r, c]` → `[c, r]`. */
const transposed = (data: Float32Array, r: number, c: number): Float32Array => {
  const out = new Float32Array(r * c)
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = data[i * c + j]
  return out
}

const buildStep = (tf: Tf, input: PeerStepInput): () => Promise<number> => {
  const { batch: B, config } = input
  const { dim: d, heads: H, normEps, seqLen: T, vocabSize: V } = config
  const hd = d / H
  const N = B * T
  const prefix = `continuum-step-${++built}`
  const variables = new Map(input.params.map((p) => {
    // Matrices other than the embedding are used as x·W: stored [in, out].
    const matrix = p.shape.length === 2 && p.name !== "tok_embeddings.weight"
    const value = matrix
      ? tf.tensor2d(transposed(p.data, p.shape[0], p.shape[1]), [p.shape[1], p.shape[0]])
      : tf.tensor(p.data, [...p.shape])
    const variable = tf.variable(value, true, `${prefix}/${p.name}`)
    value.dispose()
    return [p.name, variable] as const
  }))
  const v = (name: string): TfCore.Variable => {
    const variable = variables.get(name)
    if (variable === undefined) throw new Error(`tfjs peer: no parameter ${name}`)
    return variable
  }
  const moments = input.params.map((p) => tf.variable(tf.zeros(v(p.name).shape), false))
  const squares = input.params.map((p) => tf.variable(tf.zeros(v(p.name).shape), false))

  const ids = tf.tensor1d(input.ids, "int32")
  const targets = tf.oneHot(tf.tensor1d(input.targets, "int32"), V)
  const perRow = (table: Float32Array): T => {
    const out = new Float32Array(T * d / 2)
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < d / 2; j++) out[t * d / 2 + j] = table[t * hd / 2 + (j % (hd / 2))]
    }
    return tf.tensor3d(out, [T, d / 2, 1])
  }
  const cos = perRow(input.ropeCos)
  const sin = perRow(input.ropeSin)
  const causal = new Float32Array(T * T)
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) causal[i * T + j] = -1e30
  const mask = tf.tensor2d(causal, [T, T])

  const rmsnorm = (x: T, w: T): T => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), normEps))), w)
  const linear = (x: T, w: T): T => tf.matMul(x as TfCore.Tensor2D, w as TfCore.Tensor2D)
  const rope = (x: T): T => {
    const [x0, x1] = tf.split(tf.reshape(x, [B, T, d / 2, 2]), 2, -1)
    const rotated = [tf.sub(tf.mul(x0, cos), tf.mul(x1, sin)), tf.add(tf.mul(x0, sin), tf.mul(x1, cos))]
    return tf.reshape(tf.concat(rotated, -1), [N, d])
  }
  /** `[N, d]` → `[B·H, T, hd]`, or `[B·H, hd, T]` when transposed. */
  const heads = (x: T, transposeLast = false): TfCore.Tensor3D =>
    tf.reshape(
      tf.transpose(tf.reshape(x, [B, T, H, hd]), transposeLast ? [0, 2, 3, 1] : [0, 2, 1, 3]),
      transposeLast ? [B * H, hd, T] : [B * H, T, hd]
    )

  const loss = (): TfCore.Scalar => {
    let x = tf.gather(v("tok_embeddings.weight"), ids)
    for (let i = 0; i < config.layers; i++) {
      const l = (name: string): T => v(`layers.${i}.${name}`)
      const n1 = rmsnorm(x, l("attention_norm.weight"))
      const q = heads(rope(linear(n1, l("attention.wq.weight"))))
      const kT = heads(rope(linear(n1, l("attention.wk.weight"))), true)
      const values = heads(linear(n1, l("attention.wv.weight")))
      const scores = tf.add(tf.mul(tf.matMul(q, kT), 1 / Math.sqrt(hd)), mask)
      const attended = tf.reshape(
        tf.transpose(tf.reshape(tf.matMul(tf.softmax(scores), values), [B, H, T, hd]), [0, 2, 1, 3]),
        [N, d]
      )
      const h = tf.add(x, linear(attended, l("attention.wo.weight")))
      const n2 = rmsnorm(h, l("ffn_norm.weight"))
      const gate = linear(n2, l("feed_forward.w1.weight"))
      const gated = tf.mul(tf.mul(gate, tf.sigmoid(gate)), linear(n2, l("feed_forward.w3.weight")))
      x = tf.add(h, linear(gated, l("feed_forward.w2.weight")))
    }
    const logits = linear(rmsnorm(x, v("norm.weight")), v("output.weight"))
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), targets), -1))) as TfCore.Scalar
  }

  const { beta1, beta2, eps, lr, weightDecay } = input.adamw
  const trainable = input.params.map((p) => v(p.name))
  let count = 0
  return async () => {
    count++
    const bc1 = 1 - beta1 ** count
    const bc2 = 1 - beta2 ** count
    const value = tf.tidy(() => {
      const { grads, value } = tf.variableGrads(loss, trainable)
      const gradients = trainable.map((variable) => grads[variable.name])
      const norm = tf.sqrt(tf.addN(gradients.map((g) => tf.sum(tf.square(g)))))
      const scale = tf.minimum(tf.div(input.clipNorm, tf.add(norm, 1e-6)), 1)
      input.params.forEach((p, i) => {
        const g = tf.mul(gradients[i], scale)
        const m = tf.add(tf.mul(moments[i], beta1), tf.mul(g, 1 - beta1))
        const s = tf.add(tf.mul(squares[i], beta2), tf.mul(tf.square(g), 1 - beta2))
        const update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(s, bc2)), eps))
        trainable[i].assign(tf.sub(tf.mul(trainable[i], p.decay ? 1 - lr * weightDecay : 1), tf.mul(update, lr)))
        moments[i].assign(m)
        squares[i].assign(s)
      })
      return value
    })
    try {
      return (await value.data())[0]
    } finally {
      value.dispose()
    }
  }
}

/** The TensorFlow.js wasm peer; rejects with the reason when it cannot run here. */
export const loadTfjsPeer = async (): Promise<StepPeer> => {
  const report = await probeTfjsPeers()
  const wasm = report.peers.find((p) => p.name === "tfjs-wasm")
  if (wasm === undefined) {
    throw new Error(report.unavailable.find((u) => u.name === "tfjs-wasm")?.reason ?? "tfjs-wasm did not load")
  }
  const tf: Tf = await import("@tensorflow/tfjs-core")
  registerStepGradients(tf)
  const name = "tfjs-wasm"
  return {
    name,
    detail: wasm.detail,
    time: async (input, steps, warmup, continuum) => {
      // The engine is shared with the matmul peers: make the wasm backend the active one.
      if (!(await tf.setBackend("wasm"))) throw new Error("tfjs-wasm: the wasm backend could not be made active")
      return timePeerSteps({ name, detail: wasm.detail }, buildStep(tf, input), steps, warmup, continuum)
    }
  }
}
