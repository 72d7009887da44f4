import type { KernelsShape } from "../kernels/KernelsShape.ts"
import type { NamedTensors } from "../tensor/namedTensors.ts"

/**
 * Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_: the norm is
 * `√(Σ_params Σ g²)`, summed in float64 over the parameters in canonical (map) order, and every
 * gradient is scaled by `maxNorm / (norm + 1e-6)` when that factor is below 1. A non-finite norm
 * leaves the gradients untouched (the caller sees it in the returned value and decides).
 * Returns the norm before clipping.
 */
export const clipGradNorm = (k: KernelsShape, grads: NamedTensors, maxNorm: number): number => {
  let total = 0
  for (const g of grads.values()) total += k.sumSquares(g.data)
  const norm = Math.sqrt(total)
  const factor = maxNorm / (norm + 1e-6)
  if (Number.isFinite(norm) && factor < 1) {
    for (const g of grads.values()) k.scale(g.data, factor, g.data)
  }
  return norm
}
