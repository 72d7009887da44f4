/** The step counter: kept (and then it must lie before the new total) or reset to 0. */
import type { StepPlan } from "../plan.ts"
import type { Actions } from "./actions.ts"
import type { Findings } from "./findings.ts"

export const planStep = (actions: Actions, k: number, totalSteps: number, findings: Findings): StepPlan | undefined => {
  if (actions.step === undefined) return undefined
  if (actions.step === "reset") return { action: "reset", start: 0 }
  if (k >= totalSteps) findings.reasons.push({ _tag: "ResumeStepBeyondTotal", resumeStep: k, totalSteps })
  return { action: "keep", start: k }
}
