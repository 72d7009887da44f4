/**
 * AdamW and SGD-with-momentum updates on the device. The new moments are computed first and
 * consumed on the device by the parameter kernel; parameters and moments are read back once.
 * Step-dependent factors (bias corrections) are computed on the host in float64 and passed as
 * uniforms, so no kernel is recompiled as the step advances.
 */
import type { Device } from "./device.ts"
import type { GpujsStorage } from "./residency.ts"

export const adamMomentSource =
  "function (m, g, beta1) { const i = this.thread.x; return beta1 * m[i] + (1 - beta1) * g[i]; }"
export const adamVarianceSource =
  "function (v, g, beta2) { const i = this.thread.x; return beta2 * v[i] + (1 - beta2) * g[i] * g[i]; }"
export const adamParamSource = `function (p, m, v, lr, eps, weightDecay, bc1, bc2) {
  const i = this.thread.x;
  const mHat = m[i] / bc1;
  const vHat = v[i] / bc2;
  return p[i] - lr * (mHat / (Math.sqrt(vHat) + eps) + weightDecay * p[i]);
}`

/** `buf' = first ? g' : μ·buf + g'` with `g' = g + wd·p`. */
export const sgdBufferSource = `function (buf, g, p, momentum, weightDecay, first) {
  const i = this.thread.x;
  const gw = g[i] + weightDecay * p[i];
  if (first > 0.5) {
    return gw;
  }
  return momentum * buf[i] + gw;
}`

/** `p' = p − lr·(nesterov ? g' + μ·buf' : buf')`. */
export const sgdParamSource = `function (p, g, buf, lr, momentum, weightDecay, nesterov) {
  const i = this.thread.x;
  const gw = g[i] + weightDecay * p[i];
  if (nesterov > 0.5) {
    return p[i] - lr * (gw + momentum * buf[i]);
  }
  return p[i] - lr * buf[i];
}`

export const adamw = (dev: Device, store: GpujsStorage) =>
(
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  step: number
): void => {
  const n = param.length
  const bc1 = 1 - Math.pow(beta1, step)
  const bc2 = 1 - Math.pow(beta2, step)
  dev.begin()
  const up = store.input(param, param.length)
  const ug = store.input(grad, n)
  const um = store.input(m, n)
  const uv = store.input(v, n)
  dev.lap("upload")
  const m2 = dev.run(`adamw.m:${n}`, () => ({ source: adamMomentSource, output: n, constants: {} }), um, ug, beta1)
  const v2 = dev.run(`adamw.v:${n}`, () => ({ source: adamVarianceSource, output: n, constants: {} }), uv, ug, beta2)
  const p2 = dev.run(
    `adamw.param:${n}`,
    () => ({ source: adamParamSource, output: n, constants: {} }),
    up,
    m2,
    v2,
    lr,
    eps,
    weightDecay,
    bc1,
    bc2
  )
  dev.lap("compute")
  store.output(param, p2, n)
  store.output(m, m2, n)
  store.output(v, v2, n)
  dev.lap("readback")
  dev.end()
}

export const sgd = (dev: Device, store: GpujsStorage) =>
(
  param: Float32Array,
  grad: Float32Array,
  buf: Float32Array,
  lr: number,
  momentum: number,
  nesterov: boolean,
  weightDecay: number,
  step: number
): void => {
  const n = param.length
  dev.begin()
  const up = store.input(param, param.length)
  const ug = store.input(grad, n)
  const ub = store.input(buf, n)
  dev.lap("upload")
  const b2 = dev.run(
    `sgd.buf:${n}`,
    () => ({ source: sgdBufferSource, output: n, constants: {} }),
    ub,
    ug,
    up,
    momentum,
    weightDecay,
    step <= 1 ? 1 : 0
  )
  const p2 = dev.run(
    `sgd.param:${n}`,
    () => ({ source: sgdParamSource, output: n, constants: {} }),
    up,
    ug,
    b2,
    lr,
    momentum,
    weightDecay,
    nesterov ? 1 : 0
  )
  dev.lap("compute")
  store.output(param, p2, n)
  // Without momentum there is no buffer (PyTorch keeps none): leave it untouched.
  if (momentum !== 0) store.output(buf, b2, n)
  dev.lap("readback")
  dev.end()
}
