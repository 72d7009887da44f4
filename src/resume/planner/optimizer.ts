/** The optimizer component: reset, or load state that must match the new model and optimizer. */
import type { CheckpointState } from "../../checkpoint/checkpointState.ts"
import type { RunConfig } from "../../config/RunConfig.ts"
import type { ParamSpec } from "../../model/model.ts"
import { sameShape } from "../../tensor/tensor.ts"
import type { ModelPlan, OptimizerPlan } from "../plan.ts"
import type { Actions } from "./actions.ts"
import type { Findings } from "./findings.ts"
import type { PlanInput, Shape } from "./input.ts"

/** Optimizer state tensors per parameter, named like PyTorch's state entries (see optim/). */
export const OPTIMIZER_STATE_PREFIXES = {
  adamw: ["exp_avg", "exp_avg_sq"],
  sgd: ["momentum_buffer"]
} as const satisfies Record<RunConfig["optimizer"]["kind"], ReadonlyArray<string>>

/** Optimizer state tensors expected for `kind` over `params`, name → shape. */
const expectedOptimizerTensors = (
  kind: keyof typeof OPTIMIZER_STATE_PREFIXES,
  params: ReadonlyArray<ParamSpec>
): Map<string, Shape> => {
  const expected = new Map<string, Shape>()
  for (const prefix of OPTIMIZER_STATE_PREFIXES[kind]) {
    for (const param of params) expected.set(`${prefix}.${param.name}`, param.shape)
  }
  return expected
}

export const planOptimizer = (
  input: PlanInput,
  actions: Actions,
  params: ReadonlyArray<ParamSpec> | undefined,
  model: ModelPlan | undefined,
  state: CheckpointState | undefined,
  findings: Findings
): OptimizerPlan | undefined => {
  const { source, config } = input
  const kind = config.optimizer.kind
  if (actions.optimizer === undefined) return undefined
  if (actions.optimizer === "reset") return { action: "reset", kind, step: 0 }
  if (source.kind === "weights") {
    findings.reasons.push({ _tag: "ComponentNotInWeights", component: "optimizer", action: "load", file: source.file })
    return undefined
  }
  if (actions.model === "init") findings.reasons.push({ _tag: "OptimizerLoadWithModelInit" })
  else if (model !== undefined && model.init.length > 0) {
    findings.reasons.push({ _tag: "OptimizerLoadWithFreshTensors", tensors: model.init })
  }
  const oldKind = state?.optimizer.kind
  if (oldKind !== undefined && oldKind !== kind) {
    // The state tensors of another optimizer are not comparable; the kind says it all.
    findings.reasons.push({ _tag: "OptimizerKindChanged", old: oldKind, new: kind })
  } else if (params !== undefined) {
    const stored = source.manifest.components.optimizer.tensors
    const expected = expectedOptimizerTensors(kind, params)
    const changed: Array<{ tensor: string; old: Array<number> | null; new: Array<number> | null }> = []
    for (const [tensor, shape] of expected) {
      const old = Object.hasOwn(stored, tensor) ? stored[tensor] : undefined
      if (old === undefined) changed.push({ tensor, old: null, new: [...shape] })
      else if (!sameShape(old, shape)) changed.push({ tensor, old: [...old], new: [...shape] })
    }
    for (const [tensor, shape] of Object.entries(stored)) {
      if (!expected.has(tensor)) changed.push({ tensor, old: [...shape], new: null })
    }
    if (changed.length > 0) findings.reasons.push({ _tag: "OptimizerShapesChanged", tensors: changed })
  }
  return { action: "load", kind, step: state?.optimizer.step ?? 0 }
}
