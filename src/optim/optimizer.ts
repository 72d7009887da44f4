import { Schema } from "effect"
import type { OptimizerKind, OptimizerState } from "../config/Start.ts"
import type { KernelsShape } from "../kernels/KernelsShape.ts"
import type { NamedTensors } from "../tensor/namedTensors.ts"
import { dtypeOf, sameShape, shapeString, type Tensor, zeros } from "../tensor/tensor.ts"

// Defined beside the start of a run, which may carry a state loaded from a checkpoint.
export type { OptimizerKind, OptimizerState } from "../config/Start.ts"

/**
 * A parameter an update visits: its name and shape, and whether weight decay applies to it
 * (matrices yes, norm weights no). A model's parameter specs are such targets.
 */
export interface UpdateTarget {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly decay: boolean
}

export interface AdamWHyper {
  /** The configured (peak) learning rate; each update receives the scheduled lr explicitly. */
  readonly lr: number
  readonly betas: readonly [number, number]
  readonly eps: number
  /** Applied only to parameters with `decay: true`. */
  readonly weightDecay: number
}

export interface SgdHyper {
  /** The configured (peak) learning rate; each update receives the scheduled lr explicitly. */
  readonly lr: number
  readonly momentum: number
  readonly nesterov: boolean
  /** Applied only to parameters with `decay: true`. */
  readonly weightDecay: number
}

/** An update rule with its hyperparameters bound. */
export interface UpdateRule {
  readonly kind: OptimizerKind
  /** Zeroed state for `params`, `step` 0. */
  init(params: NamedTensors): OptimizerState
  /** One update with learning rate `lr`, over `targets` in order; increments `state.step`. */
  update(
    k: KernelsShape,
    params: NamedTensors,
    grads: NamedTensors,
    lr: number,
    state: OptimizerState,
    targets: ReadonlyArray<UpdateTarget>
  ): void
}

/** The optimizer state (or a parameter/gradient map) does not fit the update being asked for. */
export class OptimizerStateError extends Schema.TaggedError<OptimizerStateError>()("OptimizerStateError", {
  field: Schema.String,
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message(): string {
    return `optimizer state: ${this.field} is ${this.actual}, expected ${this.expected}`
  }
}

/** Zero buffers named `<prefix>.<param>` for each parameter, in canonical order. */
export const stateBuffers = (params: NamedTensors, prefixes: ReadonlyArray<string>): NamedTensors => {
  const tensors = new Map<string, Tensor>()
  for (const prefix of prefixes) {
    for (const [name, t] of params) tensors.set(`${prefix}.${name}`, zeros(t.shape, dtypeOf(t.data)))
  }
  return tensors
}

/** The named tensor of `map`, checked against the parameter's shape. */
export const tensorFor = (
  map: ReadonlyMap<string, Tensor>,
  what: string,
  name: string,
  spec: UpdateTarget
): Tensor => {
  const t = map.get(name)
  if (t === undefined) {
    throw new OptimizerStateError({ field: `${what} ${name}`, expected: shapeString(spec.shape), actual: "missing" })
  }
  if (!sameShape(t.shape, spec.shape)) {
    throw new OptimizerStateError({
      field: `${what} ${name}`,
      expected: shapeString(spec.shape),
      actual: shapeString(t.shape)
    })
  }
  return t
}

export const checkKind = (state: OptimizerState, kind: OptimizerKind): void => {
  if (state.kind !== kind) throw new OptimizerStateError({ field: "kind", expected: kind, actual: state.kind })
}
