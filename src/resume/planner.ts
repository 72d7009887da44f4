/**
 * The resume planner (DESIGN.md, "Resume policies"): from a policy, a source (a checkpoint's
 * manifest with its verification problems, or the tensor shapes of a weights file) and the new
 * run configuration, it computes what is loaded, reset and reconciled — or rejects the resume with
 * every reason that applies. It reads no file and runs no step: a rejected plan means no step runs.
 */
import { Effect, Result, Schema } from "effect"
import type { RunConfig } from "../config/RunConfig.ts"
import type { Manifest } from "../checkpoint/manifest.ts"
import type { ParamSpec } from "../model/model.ts"
import { modelFromConfig } from "../model/fromConfig.ts"
import { ModelConfigError } from "../model/errors.ts"
import { lr, type ResolvedSchedule, type ResolvedWsd, resolveSchedule } from "../optim/schedule.ts"
import { sameShape } from "../tensor/tensor.ts"
import { CheckpointState } from "../train/checkpointState.ts"
import { type ConfigChange, decodeStoredConfig, diffConfigs } from "./changes.ts"
import { trajectoryFingerprint } from "./fingerprints.ts"
import {
  type DataPlan,
  type ModelPlan,
  type OptimizerPlan,
  PlanRejected,
  type PlanSource,
  type RejectionReason,
  type ResumePlan,
  type SchedulePlan,
  showShape,
  showValue,
  type StepPlan
} from "./plan.ts"
import { policyName, type ResumePolicy, type TensorSelection } from "./policy.ts"
import { DEFAULT_LR_JUMP_TOLERANCE, jumpRatioOf, reconcileSchedule, type ScheduleReconcileError } from "./reconcile.ts"

type Shape = ReadonlyArray<number>

/** A checkpoint, as read and verified by the checkpoint store. */
export interface CheckpointSource {
  readonly kind: "checkpoint"
  readonly location: string
  readonly manifest: Manifest
  /** What verification found wrong; empty when every file verified. */
  readonly problems: ReadonlyArray<{ readonly file: string; readonly reason: string; readonly detail: string }>
}

/** A weights file (e.g. an exported safetensors), with the tensor shapes from its header. */
export interface WeightsSource {
  readonly kind: "weights"
  readonly file: string
  readonly shapes: Readonly<Record<string, Shape>>
}

export interface PlanInput {
  readonly policy: ResumePolicy
  readonly source: CheckpointSource | WeightsSource
  /** The configuration of the new run. */
  readonly config: RunConfig
  /** The dataset fingerprint of the new configuration's data. */
  readonly dataFingerprint: string
}

// -----------------------------------------------------------------------------------------------
// Tensor selection

const escapeRegExp = (text: string): string => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&")

/** A glob over parameter names: `*` matches any run of characters (dots included), all else literally. */
export const globMatcher = (pattern: string): (name: string) => boolean => {
  const regexp = new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`, "s")
  return (name) => regexp.test(name)
}

export interface Selection {
  /** Names the selection takes, in the given order. */
  readonly selected: ReadonlyArray<string>
  /** Names left out (not included, or excluded). */
  readonly excluded: ReadonlyArray<string>
  /** Patterns that match no name: likely typos. */
  readonly unmatched: ReadonlyArray<{ readonly list: "include" | "exclude"; readonly pattern: string }>
}

/** Applies include (default: everything) then exclude patterns to `names`. */
export const selectTensors = (names: ReadonlyArray<string>, selection: TensorSelection | undefined): Selection => {
  const include = (selection?.include ?? ["*"]).map((pattern) => ({ pattern, match: globMatcher(pattern) }))
  const exclude = (selection?.exclude ?? []).map((pattern) => ({ pattern, match: globMatcher(pattern) }))
  const selected: Array<string> = []
  const excluded: Array<string> = []
  for (const name of names) {
    if (include.some((p) => p.match(name)) && !exclude.some((p) => p.match(name))) selected.push(name)
    else excluded.push(name)
  }
  const unmatched = [
    ...include.filter((p) => !names.some(p.match)).map((p) => ({ list: "include" as const, pattern: p.pattern })),
    ...exclude.filter((p) => !names.some(p.match)).map((p) => ({ list: "exclude" as const, pattern: p.pattern }))
  ]
  return { selected, excluded, unmatched }
}

// -----------------------------------------------------------------------------------------------
// Facts gathered once

/** Optimizer state tensors per parameter, named like PyTorch's state entries (see optim/). */
export const OPTIMIZER_STATE_PREFIXES = {
  adamw: ["exp_avg", "exp_avg_sq"],
  sgd: ["momentum_buffer"]
} as const satisfies Record<RunConfig["optimizer"]["kind"], ReadonlyArray<string>>

/** Reasons and warnings, collected across all components. */
interface Findings {
  readonly reasons: Array<RejectionReason>
  readonly warnings: Array<string>
}

/** The policy's actions, each `undefined` when the value is not an action of its component. */
interface Actions {
  readonly model?: "load" | "init"
  readonly optimizer?: "load" | "reset"
  readonly schedule?: "keep" | "extend" | "rewarm" | "rebuild" | "restart"
  readonly data?: "load" | "reset"
  readonly step?: "keep" | "reset"
  /** The step and schedule actions go together. */
  readonly paired: boolean
}

const ACTIONS = {
  model: ["load", "init"],
  optimizer: ["load", "reset"],
  schedule: ["keep", "extend", "rewarm", "rebuild", "restart"],
  data: ["load", "reset"],
  step: ["keep", "reset"]
} as const

/**
 * Re-checks the policy at run time: the type rules out invalid pairings, but a policy can reach
 * the planner through `any` or a cast.
 */
const checkPolicy = (policy: ResumePolicy, findings: Findings): Actions => {
  const raw = policy as unknown as Record<string, unknown>
  const valid = <K extends keyof typeof ACTIONS>(field: K): (typeof ACTIONS)[K][number] | undefined => {
    const value = raw[field]
    const allowed: ReadonlyArray<unknown> = ACTIONS[field]
    if (allowed.includes(value)) return value as (typeof ACTIONS)[K][number]
    findings.reasons.push({
      _tag: "InvalidPolicy",
      field,
      value: showValue(value),
      expected: ACTIONS[field].join(" | ")
    })
    return undefined
  }
  const actions = {
    model: valid("model"),
    optimizer: valid("optimizer"),
    schedule: valid("schedule"),
    data: valid("data"),
    step: valid("step")
  }
  let paired = actions.step !== undefined && actions.schedule !== undefined
  if (paired && (actions.schedule === "restart") !== (actions.step === "reset")) {
    findings.reasons.push({ _tag: "StepScheduleMismatch", step: actions.step!, schedule: actions.schedule! })
    paired = false
  }
  return { ...actions, paired }
}

const newModelParams = (config: RunConfig, findings: Findings): ReadonlyArray<ParamSpec> | undefined => {
  try {
    return modelFromConfig(config.model).params
  } catch (error) {
    if (!(error instanceof ModelConfigError)) throw error
    findings.reasons.push({ _tag: "ModelConfigInvalid", field: error.field, value: error.value, expected: error.expected })
    return undefined
  }
}

const newSchedule = (config: RunConfig, findings: Findings): ResolvedWsd | undefined => {
  const resolved = resolveSchedule(config.schedule, config.optimizer.lr, config.steps)
  if (Result.isSuccess(resolved)) return resolved.success
  const error = resolved.failure
  findings.reasons.push({ _tag: "ScheduleConfigInvalid", field: error.field, value: showValue(error.value), reason: error.reason })
  return undefined
}

const decodeState = Schema.decodeUnknownResult(CheckpointState)

/** The checkpoint's state, or why it cannot be used. */
const checkpointState = (manifest: Manifest): Result.Result<CheckpointState, string> => {
  const decoded = decodeState(manifest.state, { errors: "all" })
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure.message)
  if (decoded.success.step !== manifest.step) {
    return Result.fail(`state.step ${decoded.success.step} differs from the manifest's step ${manifest.step}`)
  }
  return Result.succeed(decoded.success)
}

/** What the policy needs from the checkpoint's non-tensor state. */
const needsState = (actions: Actions): boolean =>
  actions.optimizer === "load" || actions.data === "load" || actions.step === "keep" ||
  (actions.schedule !== undefined && actions.schedule !== "restart")

const isExact = (actions: Actions): boolean =>
  actions.model === "load" && actions.optimizer === "load" && actions.schedule === "keep" &&
  actions.data === "load" && actions.step === "keep"

// -----------------------------------------------------------------------------------------------
// Components

const checkProblems = (source: CheckpointSource, actions: Actions, findings: Findings): void => {
  const { model, optimizer } = source.manifest.components
  for (const problem of source.problems) {
    const component = problem.file === model.file ? "model" : problem.file === optimizer.file ? "optimizer" : "checkpoint"
    // Every plan reads the manifest; a tensor file only matters to the component that loads it.
    const needed = component === "model"
      ? actions.model !== "init"
      : component === "optimizer"
      ? actions.optimizer !== "reset"
      : true
    if (needed) findings.reasons.push({ _tag: "ComponentCorrupt", component, ...problem })
    else {
      findings.warnings.push(
        `${component} file ${problem.file} is unusable (${problem.reason}: ${problem.detail}); ` +
          `not needed: ${component} ${component === "model" ? "init" : "reset"}`
      )
    }
  }
}

const planModel = (
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

const planOptimizer = (
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

const planSchedule = (
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
  return { action, lrBefore: r.lrBefore, lrAfter: r.lrAfter, jumpRatio: r.jumpRatio, schedule: r.schedule }
}

const planData = (
  input: PlanInput,
  actions: Actions,
  k: number,
  state: CheckpointState | undefined,
  findings: Findings
): DataPlan | undefined => {
  const { source, config } = input
  if (actions.data === undefined || actions.step === undefined) return undefined
  // Run counters follow the step counter; the cursor follows the data action.
  const keepCounters = actions.step === "keep" && state !== undefined
  const samplesSeen = keepCounters ? state.samplesSeen : 0
  const tokensSeen = keepCounters ? state.tokensSeen : 0
  if (actions.data === "reset") {
    if (actions.step === "keep" && source.kind === "checkpoint" && k > 0) {
      findings.warnings.push(`data reset with step keep: the data is read again from sample 0 while the steps continue from ${k}`)
    }
    return { action: "reset", cursor: 0, samplesSeen, tokensSeen }
  }
  if (source.kind === "weights") {
    findings.reasons.push({ _tag: "ComponentNotInWeights", component: "data", action: "load", file: source.file })
    return undefined
  }
  const oldFingerprint = source.manifest.fingerprints.dataset
  if (oldFingerprint !== input.dataFingerprint) {
    findings.reasons.push({ _tag: "DatasetChanged", old: oldFingerprint, new: input.dataFingerprint })
  }
  if (state === undefined) return undefined
  if (state.data.seed !== config.seed) findings.reasons.push({ _tag: "DataSeedChanged", old: state.data.seed, new: config.seed })
  const cursor = state.data.cursor
  const oldB = state.data.geometry.global
  const newB = config.batch.global
  const plan: DataPlan = { action: "load", cursor, samplesSeen, tokensSeen }
  if (oldB === newB) return plan
  const first = (actions.step === "keep" ? k : 0) + 1
  return {
    ...plan,
    note: `batch.global ${oldB} → ${newB}: the step↔sample mapping changes: step s now starts at sample ` +
      `${cursor} + (s − ${first})·${newB} instead of ${cursor} + (s − ${first})·${oldB}`
  }
}

const planStep = (actions: Actions, k: number, totalSteps: number, findings: Findings): StepPlan | undefined => {
  if (actions.step === undefined) return undefined
  if (actions.step === "reset") return { action: "reset", start: 0 }
  if (k >= totalSteps) findings.reasons.push({ _tag: "ResumeStepBeyondTotal", resumeStep: k, totalSteps })
  return { action: "keep", start: k }
}

/** The policies' own expectations of configuration changes (DESIGN.md, presets table). */
const CONTINUE_ALLOWED = (path: string): boolean =>
  path === "steps" || path.startsWith("schedule.") || path === "batch.global" || path === "batch.micro" ||
  (path.startsWith("optimizer.") && path !== "optimizer.kind")

const showChange = (c: ConfigChange): string => `${c.path} ${showValue(c.old)} → ${showValue(c.new)}`

const checkChanges = (
  source: CheckpointSource,
  actions: Actions,
  name: string,
  changes: ReadonlyArray<ConfigChange>,
  findings: Findings
): void => {
  const oldConfig = decodeStoredConfig(source.manifest.config)
  if (isExact(actions)) {
    if (Result.isFailure(oldConfig)) {
      findings.reasons.push({ _tag: "CheckpointConfigInvalid", detail: oldConfig.failure })
    } else {
      const fields = changes.filter((c) => c.trajectory).map(({ path, old, new: now }) => ({ path, old, new: now }))
      if (fields.length > 0) findings.reasons.push({ _tag: "TrajectoryChanged", fields })
      const stored = source.manifest.fingerprints.trajectory
      const computed = trajectoryFingerprint(oldConfig.success)
      if (stored !== computed) findings.reasons.push({ _tag: "TrajectoryFingerprintMismatch", stored, computed })
    }
  } else if (Result.isFailure(oldConfig)) {
    findings.warnings.push(
      `the checkpoint's configuration does not decode (${oldConfig.failure}); changes are listed against its raw values`
    )
  }
  const free = changes.filter((c) => !c.trajectory)
  if (free.length > 0) findings.warnings.push(`changes that do not affect the trajectory: ${free.map(showChange).join(", ")}`)
  if (name === "continue") {
    const unexpected = changes.filter((c) => c.trajectory && !CONTINUE_ALLOWED(c.path))
    if (unexpected.length > 0) {
      findings.warnings.push(
        `continue expects changes to steps, schedule, batch size and optimizer hyperparameters only; ` +
          `also changed: ${unexpected.map(showChange).join(", ")}`
      )
    }
  }
}

// -----------------------------------------------------------------------------------------------
// The planner

/** The plan, or every reason it is rejected for; pure and synchronous. */
export const computePlan = (input: PlanInput): Result.Result<ResumePlan, PlanRejected> => {
  const { policy, source, config } = input
  const findings: Findings = { reasons: [], warnings: [] }
  const actions = checkPolicy(policy, findings)
  const name = policyName(policy)
  const params = newModelParams(config, findings)
  const next = newSchedule(config, findings)

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
    else findings.warnings.push(`the checkpoint's state does not decode (${decoded.failure}); this plan does not need it`)
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
    return Result.fail(new PlanRejected({ reasons: findings.reasons }))
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
