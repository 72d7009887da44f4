/**
 * The resume planner (docs/design.md, "Resume policies"): from a policy, a source (a checkpoint's
 * manifest with its verification problems, or the tensor shapes of a weights file) and the new
 * run configuration, it computes what is loaded, reset and reconciled — or rejects the resume with
 * every reason that applies. It reads no file and runs no step: a rejected plan means no step runs.
 *
 * Each component is planned in its own module under planner/; this one gathers the facts they
 * share and assembles their plans.
 */
import { Effect, Result, Schema } from "effect"
import type { CheckpointState } from "../checkpoint/checkpointState.ts"
import { modelFromConfig } from "../model/fromConfig.ts"
import { resolveSchedule } from "../optim/schedule.ts"
import { type ConfigChange, diffConfigs } from "./changes.ts"
import { PlanRejected, type PlanSource, type ResumePlan } from "./plan.ts"
import { checkPolicy, needsState } from "./planner/actions.ts"
import { checkChanges, checkpointState, checkProblems } from "./planner/checkpointSource.ts"
import { planData } from "./planner/data.ts"
import type { Findings } from "./planner/findings.ts"
import type { PlanInput, Shape } from "./planner/input.ts"
import { planModel } from "./planner/model.ts"
import { planOptimizer } from "./planner/optimizer.ts"
import { planSchedule } from "./planner/schedule.ts"
import { planStep } from "./planner/step.ts"
import { policyName, ResumePolicy } from "./policy.ts"

const isPolicy = Schema.is(ResumePolicy)

export type { CheckpointSource, PlanInput, WeightsSource } from "./planner/input.ts"
export { OPTIMIZER_STATE_PREFIXES } from "./planner/optimizer.ts"
export { globMatcher, type Selection, selectTensors } from "./planner/tensorSelection.ts"

/** The plan, or every reason it is rejected for; pure and synchronous. */
export const computePlan = (input: PlanInput): Result.Result<ResumePlan, PlanRejected> => {
  const { policy, source, config } = input
  const findings: Findings = { reasons: [], warnings: [] }
  const actions = checkPolicy(policy, findings)
  const name = policyName(policy)
  // The configuration is decoded: it describes a model, and a schedule that fits the run.
  const params = modelFromConfig(config.model).params
  const next = resolveSchedule(config.schedule, config.optimizer.lr, config.steps)

  let k = 0
  let state: CheckpointState | undefined
  let changedFields: Array<ConfigChange> = []
  let planSource: PlanSource
  let sourceTensors: Readonly<Record<string, Shape>>
  if (source.kind === "checkpoint") {
    const { manifest } = source
    k = manifest.step
    planSource = { kind: "checkpoint", location: source.location, runId: manifest.runId, step: manifest.step }
    sourceTensors = manifest.components.model.tensors
    checkProblems(source, actions, findings)
    const decoded = checkpointState(manifest)
    if (Result.isSuccess(decoded)) state = decoded.success
    else if (needsState(actions)) findings.reasons.push({ _tag: "CheckpointStateInvalid", detail: decoded.failure })
    else {findings.warnings.push(
        `the checkpoint's state does not decode (${decoded.failure}); this plan does not need it`
      )}
    changedFields = diffConfigs(manifest.config, config)
    checkChanges(source, actions, name, changedFields, findings)
  } else {
    planSource = { kind: "weights", file: source.file }
    sourceTensors = source.shapes
  }

  const model = planModel(actions, policy.tensors, params, sourceTensors, findings)
  const optimizer = planOptimizer(input, actions, params, model, state, findings)
  const schedule = planSchedule(input, actions, k, next, state?.schedule, findings)
  const data = planData(input, actions, k, state, findings)
  const step = planStep(actions, k, config.steps, findings)

  if (
    findings.reasons.length > 0 || model === undefined || optimizer === undefined || schedule === undefined ||
    data === undefined || step === undefined
  ) {
    return Result.fail(
      new PlanRejected({
        reasons: findings.reasons,
        context: {
          ...(isPolicy(policy) ? { policy } : {}),
          changedFields,
          parameters: params.length
        }
      })
    )
  }
  return Result.succeed({
    policy,
    policyName: name,
    source: planSource,
    resumeStep: k,
    startStep: step.start,
    totalSteps: config.steps,
    model,
    optimizer,
    schedule,
    data,
    step,
    changedFields,
    warnings: findings.warnings
  })
}

/** Plans a resume before any step runs; fails with every reason that applies. */
export const planResume = (input: PlanInput): Effect.Effect<ResumePlan, PlanRejected> =>
  Effect.suspend(() => Effect.fromResult(computePlan(input)))
