/**
 * Facts about the new run that several components need: its model's parameters and its resolved
 * schedule. An invalid configuration becomes a rejection reason, not an exception.
 */
import { Result } from "effect"
import type { RunConfig } from "../../config/RunConfig.ts"
import { ModelConfigError } from "../../model/errors.ts"
import { modelFromConfig } from "../../model/fromConfig.ts"
import type { ParamSpec } from "../../model/model.ts"
import { type ResolvedWsd, resolveSchedule } from "../../optim/schedule.ts"
import { showValue } from "../plan.ts"
import type { Findings } from "./findings.ts"

export const newModelParams = (config: RunConfig, findings: Findings): ReadonlyArray<ParamSpec> | undefined => {
  try {
    return modelFromConfig(config.model).params
  } catch (error) {
    if (!(error instanceof ModelConfigError)) throw error
    findings.reasons.push({ _tag: "ModelConfigInvalid", field: error.field, value: error.value, expected: error.expected })
    return undefined
  }
}

export const newSchedule = (config: RunConfig, findings: Findings): ResolvedWsd | undefined => {
  const resolved = resolveSchedule(config.schedule, config.optimizer.lr, config.steps)
  if (Result.isSuccess(resolved)) return resolved.success
  const error = resolved.failure
  findings.reasons.push({ _tag: "ScheduleConfigInvalid", field: error.field, value: showValue(error.value), reason: error.reason })
  return undefined
}
