import { Schema } from "effect"
import type { KernelsShape } from "../kernels/KernelsShape.ts"
import type { ParamSpec, Params } from "../model/model.ts"
import { dtypeOf, sameShape, shapeString, type Tensor, zeros } from "../tensor/tensor.ts"

export type OptimizerKind = "sgd" | "adamw"

/**
 * Everything an optimizer carries between steps. `step` counts completed updates (0 before the
 * first); `tensors` holds per-parameter buffers named like PyTorch's state entries:
 * `exp_avg.<param>`, `exp_avg_sq.<param>` (AdamW), `momentum_buffer.<param>` (SGD).
 * `update` mutates the tensors in place and increments `step`.
 */
export interface OptimizerState {
  readonly kind: OptimizerKind
  step: number
  readonly tensors: Map<string, Tensor>
}

export interface AdamWHyper {
  /** The configured (peak) learning rate; each update receives the scheduled lr explicitly. */
  readonly lr: number
  readonly betas: readonly [number, number]
  readonly eps: number
  /** Applied only to parameters whose spec has `decay: true`. */
  readonly weightDecay: number
}

export interface SgdHyper {
  /** The configured (peak) learning rate; each update receives the scheduled lr explicitly. */
  readonly lr: number
  readonly momentum: number
  readonly nesterov: boolean
  /** Applied only to parameters whose spec has `decay: true`. */
  readonly weightDecay: number
}

/** An update rule with its hyperparameters bound. */
export interface UpdateRule {
  readonly kind: OptimizerKind
  /** Zeroed state for `params`, `step` 0. */
  init(params: Params): OptimizerState
  /** One update with learning rate `lr`, over `specs` in order; increments `state.step`. */
  update(k: KernelsShape, params: Params, grads: Params, lr: number, state: OptimizerState, specs: ReadonlyArray<ParamSpec>): void
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
export const stateBuffers = (params: Params, prefixes: ReadonlyArray<string>): Map<string, Tensor> => {
  const tensors = new Map<string, Tensor>()
  for (const prefix of prefixes) {
    for (const [name, t] of params) tensors.set(`${prefix}.${name}`, zeros(t.shape, dtypeOf(t.data)))
  }
  return tensors
}

/** The named tensor of `map`, checked against the parameter's shape. */
export const tensorFor = (
  map: ReadonlyMap<string, Tensor>, what: string, name: string, spec: ParamSpec
): Tensor => {
  const t = map.get(name)
  if (t === undefined) {
    throw new OptimizerStateError({ field: `${what} ${name}`, expected: shapeString(spec.shape), actual: "missing" })
  }
  if (!sameShape(t.shape, spec.shape)) {
    throw new OptimizerStateError({ field: `${what} ${name}`, expected: shapeString(spec.shape), actual: shapeString(t.shape) })
  }
  return t
}

export const checkKind = (state: OptimizerState, kind: OptimizerKind): void => {
  if (state.kind !== kind) throw new OptimizerStateError({ field: "kind", expected: kind, actual: state.kind })
}
