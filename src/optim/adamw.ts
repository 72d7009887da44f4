import {
  type AdamWHyper,
  checkKind,
  type OptimizerState,
  stateBuffers,
  tensorFor,
  type UpdateRule
} from "./optimizer.ts"

/**
 * AdamW as torch.optim.AdamW: bias-corrected moments, decoupled weight decay on parameters
 * with `decay: true` only (norm weights are not decayed).
 */
export const adamw = (hyper: AdamWHyper): UpdateRule => ({
  kind: "adamw",
  init: (params): OptimizerState => ({
    kind: "adamw",
    step: 0,
    tensors: stateBuffers(params, ["exp_avg", "exp_avg_sq"])
  }),
  update: (k, params, grads, lr, state, targets) => {
    checkKind(state, "adamw")
    const step = state.step + 1
    const [beta1, beta2] = hyper.betas
    for (const target of targets) {
      const p = tensorFor(params, "parameter", target.name, target)
      const g = tensorFor(grads, "gradient", target.name, target)
      const m = tensorFor(state.tensors, "state", `exp_avg.${target.name}`, target)
      const v = tensorFor(state.tensors, "state", `exp_avg_sq.${target.name}`, target)
      k.adamw(p.data, g.data, m.data, v.data, lr, beta1, beta2, hyper.eps, target.decay ? hyper.weightDecay : 0, step)
    }
    state.step = step
  }
})
