import type { FloatArray } from "../../tensor/tensor.ts"
import * as check from "../checks.ts"

/** `Σ x²` in float64, in index order (deterministic). */
export const sumSquares = (x: FloatArray): number => {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i] * x[i]
  return s
}

/**
 * AdamW (decoupled weight decay, as torch.optim.AdamW): the decay term uses the parameter
 * before this step's update, `p ← p − lr·(m̂/(√v̂ + eps) + wd·p)`.
 */
export const adamw = (
  param: FloatArray,
  grad: FloatArray,
  m: FloatArray,
  v: FloatArray,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  step: number
): void => {
  check.adamw(param, grad, m, v)
  const n = param.length
  const bc1 = 1 - Math.pow(beta1, step)
  const bc2 = 1 - Math.pow(beta2, step)
  for (let i = 0; i < n; i++) {
    const g = grad[i]
    const mi = beta1 * m[i] + (1 - beta1) * g
    const vi = beta2 * v[i] + (1 - beta2) * g * g
    m[i] = mi
    v[i] = vi
    const p = param[i]
    param[i] = p - lr * (mi / bc1 / (Math.sqrt(vi / bc2) + eps) + weightDecay * p)
  }
}

/** SGD with momentum, PyTorch semantics (dampening 0); `step` is 1 on the first update. */
export const sgd = (
  param: FloatArray,
  grad: FloatArray,
  buf: FloatArray,
  lr: number,
  momentum: number,
  nesterov: boolean,
  weightDecay: number,
  step: number
): void => {
  check.sgd(param, grad, buf)
  const n = param.length
  for (let i = 0; i < n; i++) {
    const p = param[i]
    const g = grad[i] + weightDecay * p
    if (momentum === 0) {
      param[i] = p - lr * g
      continue
    }
    const b = step <= 1 ? g : momentum * buf[i] + g
    buf[i] = b
    param[i] = p - lr * (nesterov ? g + momentum * b : b)
  }
}
