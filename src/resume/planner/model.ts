/** The model component: which parameters are loaded from the source and which start fresh. */
import type { ParamSpec } from "../../model/model.ts"
import { sameShape } from "../../tensor/tensor.ts"
import { type ModelPlan, showShape } from "../plan.ts"
import type { TensorSelection } from "../policy.ts"
import type { Actions } from "./actions.ts"
import type { Findings } from "./findings.ts"
import type { Shape } from "./input.ts"
import { selectTensors } from "./tensorSelection.ts"

export const planModel = (
  actions: Actions,
  selection: TensorSelection | undefined,
  params: ReadonlyArray<ParamSpec> | undefined,
  sourceTensors: Readonly<Record<string, Shape>>,
  findings: Findings
): ModelPlan | undefined => {
  if (params === undefined || actions.model === undefined) return undefined
  const names = params.map((p) => p.name)
  if (actions.model === "init") {
    if (selection !== undefined) findings.warnings.push("policy.tensors is ignored: model init loads no tensor")
    return { action: "init", load: [], init: names }
  }
  const strict = selection?.strict ?? true
  const { selected, unmatched } = selectTensors(names, selection)
  const chosen = new Set(selected)
  const load: Array<string> = []
  const init: Array<string> = []
  const skipped: Array<string> = []
  for (const param of params) {
    if (!chosen.has(param.name)) {
      init.push(param.name)
      continue
    }
    const old = Object.hasOwn(sourceTensors, param.name) ? sourceTensors[param.name] : undefined
    if (old !== undefined && sameShape(old, param.shape)) {
      load.push(param.name)
      continue
    }
    if (strict) {
      findings.reasons.push(
        old === undefined
          ? { _tag: "ModelTensorMissing", tensor: param.name, shape: [...param.shape] }
          : { _tag: "ModelShapeMismatch", tensor: param.name, old: [...old], new: [...param.shape] }
      )
    } else {
      init.push(param.name)
      skipped.push(
        old === undefined
          ? `${param.name} (not in the source)`
          : `${param.name} (${showShape(old)} in the source, ${showShape(param.shape)} now)`
      )
    }
  }
  if (skipped.length > 0) {
    findings.warnings.push(`non-strict selection: initialized fresh instead of loaded: ${skipped.join(", ")}`)
  }
  for (const { list, pattern } of unmatched) {
    findings.warnings.push(`policy.tensors.${list} pattern ${JSON.stringify(pattern)} matches no parameter`)
  }
  const known = new Set(names)
  const unused = Object.keys(sourceTensors).filter((name) => !known.has(name))
  if (unused.length > 0) {
    findings.warnings.push(`the source holds tensors the new model does not have (not loaded): ${unused.join(", ")}`)
  }
  if (load.length === 0 && names.length > 0) {
    findings.warnings.push("model load takes no tensor from the source: every parameter is initialized fresh")
  }
  return { action: "load", load, init }
}
