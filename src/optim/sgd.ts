import { checkKind, type OptimizerState, type SgdHyper, stateBuffers, tensorFor, type UpdateRule } from "./optimizer.ts"

/**
 * SGD with momentum as torch.optim.SGD (dampening 0, optional Nesterov); L2 weight decay is
 * added to the gradient of parameters with `decay: true` only.
 */
export const sgd = (hyper: SgdHyper): UpdateRule => ({
  kind: "sgd",
  init: (params): OptimizerState => ({ kind: "sgd", step: 0, tensors: stateBuffers(params, ["momentum_buffer"]) }),
  update: (k, params, grads, lr, state, targets) => {
    checkKind(state, "sgd")
    const step = state.step + 1
    for (const target of targets) {
      const p = tensorFor(params, "parameter", target.name, target)
      const g = tensorFor(grads, "gradient", target.name, target)
      const buf = tensorFor(state.tensors, "state", `momentum_buffer.${target.name}`, target)
      k.sgd(p.data, g.data, buf.data, lr, hyper.momentum, hyper.nesterov, target.decay ? hyper.weightDecay : 0, step)
    }
    state.step = step
  }
})
