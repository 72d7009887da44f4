/** The schedule component: restart the new schedule, or reconcile it with the stored one at the resume step. */
import { Result } from "effect"
import { configuredOf, lr, type ResolvedSchedule, type ResolvedWsd } from "../../optim/schedule.ts"
import { type RejectionReason, type SchedulePlan, showValue } from "../plan.ts"
import { DEFAULT_LR_JUMP_TOLERANCE, jumpRatioOf, reconcileSchedule, type ScheduleReconcileError } from "../reconcile.ts"
import type { Actions } from "./actions.ts"
import type { Findings } from "./findings.ts"
import type { PlanInput } from "./input.ts"

const fromScheduleError = (error: ScheduleReconcileError): RejectionReason => {
  switch (error._tag) {
    case "ResumeStepBeyondTotal":
      return { _tag: error._tag, resumeStep: error.resumeStep, totalSteps: error.totalSteps }
    case "ScheduleKeepMismatch":
      return { _tag: error._tag, resumeStep: error.resumeStep, differences: error.differences }
    case "ScheduleDiscontinuity":
      return {
        _tag: error._tag,
        resumeStep: error.resumeStep,
        lrBefore: error.lrBefore,
        lrAfter: error.lrAfter,
        jumpRatio: error.jumpRatio,
        tolerance: error.tolerance
      }
    case "RewarmDoesNotFit":
      return {
        _tag: error._tag,
        resumeStep: error.resumeStep,
        warmupSteps: error.warmupSteps,
        totalSteps: error.totalSteps,
        reason: error.reason
      }
    case "InvalidReconcileInput":
      return { _tag: error._tag, field: error.field, value: showValue(error.value), reason: error.reason }
  }
}

export const planSchedule = (
  input: PlanInput,
  actions: Actions,
  k: number,
  next: ResolvedWsd | undefined,
  old: ResolvedSchedule | undefined,
  findings: Findings
): SchedulePlan | undefined => {
  const { policy, source } = input
  const action = actions.schedule
  if (action === undefined) return undefined
  if (action === "restart") {
    if (next === undefined) return undefined
    const lrAfter = lr(next, 0)
    const lrBefore = old === undefined ? null : lr(old, k)
    return {
      action,
      lrBefore,
      lrAfter,
      jumpRatio: lrBefore === null ? null : jumpRatioOf(lrBefore, lrAfter),
      schedule: next
    }
  }
  if (source.kind === "weights") {
    findings.reasons.push({ _tag: "ComponentNotInWeights", component: "schedule", action, file: source.file })
    return undefined
  }
  // Without a valid pairing, a new schedule or the stored one, the reason is already recorded;
  // at or past the new total, the step check records it.
  if (!actions.paired || next === undefined || old === undefined || k >= next.totalSteps) return undefined
  const reconciled = reconcileSchedule(action, old, next, k, {
    tolerance: policy.tolerance ?? DEFAULT_LR_JUMP_TOLERANCE,
    allowDiscontinuity: policy.allowDiscontinuity ?? false
  })
  if (Result.isFailure(reconciled)) {
    findings.reasons.push(fromScheduleError(reconciled.failure))
    return undefined
  }
  const r = reconciled.success
  findings.warnings.push(...r.notes.map((note) => `schedule ${action}: ${note}`))
  // A warm-up given as a fraction resolves to other steps at another total; extend finishes the
  // warm-up in progress as it started, and says so rather than leaving the new number unexplained.
  const oldWarmup = configuredOf(old).warmupSteps
  if (action === "extend" && k < oldWarmup && next.warmupSteps !== oldWarmup) {
    findings.warnings.push(
      `schedule extend: the warm-up in progress keeps its ${oldWarmup} steps; the new configuration resolves ` +
        `schedule.warmupSteps to ${next.warmupSteps} at ${next.totalSteps} steps, which only rewarm or restart apply`
    )
  }
  return { action, lrBefore: r.lrBefore, lrAfter: r.lrAfter, jumpRatio: r.jumpRatio, schedule: r.schedule }
}
