import { gradCheck, type GradCheckResult } from "../../src/autograd/gradcheck.ts"
import { Tape } from "../../src/autograd/tape.ts"
import type { Var } from "../../src/autograd/var.ts"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { uniform } from "../../src/tensor/rng.ts"

const cpuKernels = makeCpuKernels()

/** Deterministic values in [lo, hi) from stream `stream`. */
export const randomArray = (n: number, stream: number, lo = -1, hi = 1): Float64Array => {
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * uniform(42, stream, i)
  return out
}

export interface OpInput {
  readonly shape: ReadonlyArray<number>
  readonly data: Float64Array
}

/**
 * Gradient check of a graph `build(tape, leaves) → out` through the scalar `Σ out ⊙ r` with a
 * fixed random `r`: analytic gradients from one backward pass seeded with r, numeric ones
 * from forward-only passes with perturbed inputs.
 */
export const checkGraph = (
  inputs: ReadonlyArray<OpInput>,
  build: (t: Tape, leaves: ReadonlyArray<Var>) => Var
): GradCheckResult => {
  const t = new Tape(cpuKernels, "f64")
  const leaves = inputs.map((x) => t.leaf(x.shape, x.data))
  const out = build(t, leaves)
  const r = randomArray(out.size, 999)
  t.backward(out, r)
  const analytic = leaves.map((v) => (v.hasGrad && v.grad !== null ? v.grad.slice() : new Float64Array(v.size)))
  const f = (): number => {
    const ft = new Tape(cpuKernels, "f64", false)
    const y = build(ft, inputs.map((x) => ft.leaf(x.shape, x.data)))
    let s = 0
    for (let i = 0; i < y.size; i++) s += y.value[i] * r[i]
    return s
  }
  return gradCheck(f, inputs.map((x) => x.data), analytic)
}
