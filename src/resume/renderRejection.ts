/**
 * The text of a rejected plan: the reasons grouped by what caused them. A changed width rejects
 * every tensor of the model and every optimizer moment, one reason each; a person needs to read
 * the one cause ("model.dim 32 → 64 changes the shapes of 21 of 21 tensors"), and what would be
 * accepted instead. With `verbose`, every tensor is listed under its group as well.
 *
 * Only the text is grouped: the rejection and its reasons are the planner's, unchanged.
 */
import type { ConfigChange } from "./changes.ts"
import { describeReason, type PlanRejected, type RejectionReason, showShape, showValue } from "./plan.ts"
import type { ResumePolicy } from "./policy.ts"

type Tag = RejectionReason["_tag"]
type Reason<T extends Tag> = Extract<RejectionReason, { _tag: T }>
type FieldChange = Pick<ConfigChange, "path" | "old" | "new">

/** One cause and everything it explains. */
export interface RejectionGroup {
  /** One line: the cause (the changed fields, where known) and what it rules out. */
  readonly summary: string
  /** What would be accepted instead, one suggestion each; empty when nothing would. */
  readonly instead: ReadonlyArray<string>
  /** Every tensor or difference, one per line (shown with `verbose`). */
  readonly details: ReadonlyArray<string>
}

/** How many tensors a summary names before it refers to `--verbose`. */
const EXAMPLES = 2

const showChange = (c: FieldChange): string => `${c.path} ${showValue(c.old)} → ${showValue(c.new)}`

/** "a", "a and b", "a, b and c". */
const joinAnd = (items: ReadonlyArray<string>): string =>
  items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`

/** The changes as a sentence subject, with the verb agreeing: "model.dim 32 → 64 changes". */
const subject = (changes: ReadonlyArray<FieldChange>, verb: string): string =>
  `${joinAnd(changes.map(showChange))} ${changes.length === 1 ? `${verb}s` : verb}`

/** A few examples, then a pointer to the full list when there are more. */
const examples = (items: ReadonlyArray<string>, verbose: boolean): string =>
  items.length <= EXAMPLES
    ? items.join(", ")
    : `${items.slice(0, EXAMPLES).join(", ")}, …${verbose ? "" : " --verbose lists all"}`

const uniqueChanges = (changes: ReadonlyArray<FieldChange>): Array<FieldChange> => {
  const seen = new Map<string, FieldChange>()
  for (const c of changes) if (!seen.has(c.path)) seen.set(c.path, c)
  return [...seen.values()]
}

const policyJson = (policy: ResumePolicy, patch: Partial<Record<string, unknown>>): string =>
  JSON.stringify({ ...policy, ...patch })

/** The model fields that decide parameter shapes. */
const SHAPE_FIELDS = new Set(["model.kind", "model.vocabSize", "model.dim", "model.layers", "model.ffnDim"])
/** The fields the dataset fingerprint depends on (data/fingerprint.ts). */
const DATASET_FIELDS = new Set(["data.source", "data.valFraction", "model.seqLen"])

type Section = "schedule" | "model" | "optimizer" | "data" | "trajectory"

const sectionOf = (path: string): Section =>
  path === "steps" || path.startsWith("schedule.")
    ? "schedule"
    : path.startsWith("model.")
    ? "model"
    : path.startsWith("optimizer.")
    ? "optimizer"
    : path.startsWith("data.") || path.startsWith("batch.") || path === "seed"
    ? "data"
    : "trajectory"

const SECTION_OF_TAG: Partial<Record<Tag, Section>> = {
  ResumeStepBeyondTotal: "schedule",
  ScheduleKeepMismatch: "schedule",
  ScheduleDiscontinuity: "schedule",
  RewarmDoesNotFit: "schedule",
  ModelShapeMismatch: "model",
  ModelTensorMissing: "model",
  OptimizerShapesChanged: "model",
  OptimizerLoadWithFreshTensors: "model",
  OptimizerKindChanged: "optimizer",
  OptimizerLoadWithModelInit: "optimizer",
  DatasetChanged: "data",
  DataSeedChanged: "data"
}

/** The reasons of one section, and the trajectory changes `exact` found in it. */
interface SectionFindings {
  readonly reasons: Array<RejectionReason>
  readonly trajectory: Array<FieldChange>
}

const ofTag = <T extends Tag>(reasons: ReadonlyArray<RejectionReason>, tag: T): Array<Reason<T>> =>
  reasons.filter((r): r is Reason<T> => r._tag === tag)

interface GroupInput {
  readonly section: SectionFindings
  readonly policy: ResumePolicy | undefined
  /** Every configuration change against the checkpoint (empty for a weights file). */
  readonly changes: ReadonlyArray<ConfigChange>
  readonly parameters: number | undefined
  readonly verbose: boolean
}

const EXACT_INSTEAD =
  "--resume continue loads the same state and accepts changes to steps, schedule, batch size and optimizer hyperparameters"

const trajectoryClause = (fields: ReadonlyArray<FieldChange>): string =>
  `${subject(fields, "change")} the trajectory, which exact keeps unchanged`

/** Shapes: the model fields change the parameters, so neither they nor their moments load. */
const modelGroup = ({ section, policy, changes, parameters, verbose }: GroupInput): RejectionGroup => {
  const mismatched = ofTag(section.reasons, "ModelShapeMismatch")
  const missing = ofTag(section.reasons, "ModelTensorMissing")
  const optimizerShapes = ofTag(section.reasons, "OptimizerShapesChanged").flatMap((r) => r.tensors)
  const freshMoments = ofTag(section.reasons, "OptimizerLoadWithFreshTensors").flatMap((r) => r.tensors)
  const tensorLines = [
    ...mismatched.map((r) => `${r.tensor} ${showShape(r.old)} → ${showShape(r.new)}`),
    ...missing.map((r) => `${r.tensor} ${showShape(r.shape)} not in the source`)
  ]
  // Only the fields that decide shapes are named as the cause of shape changes; other model fields
  // that exact refuses (normEps, ropeTheta, heads) change the trajectory, and are said to.
  const causes = uniqueChanges([...changes, ...section.trajectory]).filter((c) => SHAPE_FIELDS.has(c.path))
  const otherTrajectory = section.trajectory.filter((c) => !SHAPE_FIELDS.has(c.path))
  const clauses: Array<string> = []
  const changedTensors = tensorLines.length
  if (changedTensors > 0) {
    const of = parameters !== undefined ? ` of ${parameters}` : ""
    const list = `${changedTensors}${of} tensor${changedTensors === 1 && of === "" ? "" : "s"}`
    clauses.push(
      causes.length > 0
        ? `${subject(causes, "change")} the shapes of ${list} (${examples(tensorLines, verbose)})`
        : `the source's shapes differ from the new model's in ${list} (${examples(tensorLines, verbose)})`
    )
  }
  if (optimizerShapes.length > 0) {
    const state = `the optimizer state of ${optimizerShapes.length} tensor${optimizerShapes.length === 1 ? "" : "s"}`
    clauses.push(
      changedTensors > 0
        ? `so ${state} cannot be loaded either`
        : causes.length > 0
        ? `${subject(causes, "change")} the shapes of ${state}, which cannot be loaded`
        : `${state} does not match the new model's shapes and cannot be loaded`
    )
  }
  const unexplained = changedTensors > 0 ? otherTrajectory : section.trajectory
  if (unexplained.length > 0) clauses.push(trajectoryClause(unexplained))
  if (freshMoments.length > 0) {
    clauses.push(
      `optimizer load would restore moments for ${freshMoments.length} tensors that start fresh ` +
        `(${examples(freshMoments, verbose)})`
    )
  }
  const instead: Array<string> = []
  const loadable = parameters !== undefined ? parameters - changedTensors : undefined
  if (changedTensors > 0 && loadable === 0) {
    instead.push("no tensor of the source fits the new model: start it fresh in a new runDir (no --resume)")
  } else if (changedTensors > 0 && policy !== undefined) {
    instead.push(
      `a transfer policy file that initializes them fresh: ${
        policyJson(policy, {
          optimizer: "reset",
          schedule: "restart",
          data: "reset",
          step: "reset",
          tensors: { ...policy.tensors, strict: false }
        })
      }`
    )
  } else if (freshMoments.length > 0 && policy !== undefined) {
    instead.push(`a policy with "optimizer": "reset": ${policyJson(policy, { optimizer: "reset" })}`)
  }
  if (causes.length > 0) instead.push(`resume with ${joinAnd(causes.map((c) => `${c.path} ${showValue(c.old)}`))}`)
  if (section.trajectory.length > 0 && changedTensors === 0) instead.push(EXACT_INSTEAD)
  const details = [
    ...tensorLines,
    ...optimizerShapes.map((t) =>
      t.old === null
        ? `${t.tensor} ${showShape(t.new ?? [])} not in the checkpoint`
        : t.new === null
        ? `${t.tensor} ${showShape(t.old)} not in the new model`
        : `${t.tensor} ${showShape(t.old)} → ${showShape(t.new)}`
    ),
    ...freshMoments.map((t) => `${t}: moments stored, weights initialized fresh`)
  ]
  return { summary: clauses.join("; "), instead, details }
}

/** The optimizer: another kind, or state without the weights it belongs to. */
const optimizerGroup = ({ section, policy }: GroupInput): RejectionGroup => {
  const kind = ofTag(section.reasons, "OptimizerKindChanged")[0]
  const clauses: Array<string> = []
  const instead: Array<string> = []
  const otherFields = section.trajectory.filter((f) => f.path !== "optimizer.kind")
  if (kind !== undefined) {
    clauses.push(`optimizer.kind ${kind.old} → ${kind.new}: the stored ${kind.old} state cannot drive ${kind.new}`)
  }
  if (otherFields.length > 0 || (kind === undefined && section.trajectory.length > 0)) {
    clauses.push(trajectoryClause(kind === undefined ? section.trajectory : otherFields))
  }
  const modelInit = section.reasons.some((r) => r._tag === "OptimizerLoadWithModelInit")
  if (modelInit) {
    clauses.push("optimizer load with model init: the stored moments belong to weights that are not loaded")
  }
  if (policy !== undefined && (kind !== undefined || modelInit)) {
    instead.push(
      `a policy file with "optimizer": "reset" (the new optimizer starts fresh): ${
        policyJson(policy, { optimizer: "reset" })
      }`
    )
  }
  if (kind !== undefined) instead.push(`resume with optimizer.kind ${JSON.stringify(kind.old)}`)
  if (kind === undefined && section.trajectory.length > 0) instead.push(EXACT_INSTEAD)
  return { summary: clauses.join("; "), instead, details: [] }
}

/** The data: another dataset or seed makes the stored cursor point at other samples. */
const dataGroup = ({ section, policy, changes }: GroupInput): RejectionGroup => {
  const dataset = ofTag(section.reasons, "DatasetChanged")[0]
  const seed = ofTag(section.reasons, "DataSeedChanged")[0]
  const clauses: Array<string> = []
  const instead: Array<string> = []
  const datasetCauses = changes.filter((c) => DATASET_FIELDS.has(c.path))
  if (dataset !== undefined) {
    const fingerprint = `fingerprint ${dataset.old.slice(0, 12)} → ${dataset.new.slice(0, 12)}`
    clauses.push(
      (datasetCauses.length > 0 ? `${subject(datasetCauses, "change")} the dataset` : "the dataset changed") +
        ` (${fingerprint}): the stored data cursor would point at other samples`
    )
  }
  if (seed !== undefined) {
    clauses.push(`seed ${seed.old} → ${seed.new} changes the sample permutation the stored cursor indexes`)
  }
  const explained = new Set([...(dataset ? datasetCauses.map((c) => c.path) : []), ...(seed ? ["seed"] : [])])
  const rest = section.trajectory.filter((f) => !explained.has(f.path))
  if (rest.length > 0) clauses.push(trajectoryClause(rest))
  if ((dataset !== undefined || seed !== undefined) && policy !== undefined) {
    instead.push(
      `a policy with "data": "reset" reads the new data from sample 0 (e.g. --resume transfer, or ${
        policyJson(policy, { data: "reset" })
      })`
    )
  }
  const revert = [...datasetCauses, ...(seed ? changes.filter((c) => c.path === "seed") : [])]
  if (revert.length > 0) instead.push(`resume with ${joinAnd(revert.map((c) => `${c.path} ${showValue(c.old)}`))}`)
  if (rest.length > 0 && dataset === undefined && seed === undefined) instead.push(EXACT_INSTEAD)
  return { summary: clauses.join("; "), instead, details: [] }
}

/** The schedule and total steps. */
const scheduleGroup = ({ section, policy }: GroupInput): RejectionGroup => {
  const clauses: Array<string> = []
  const instead: Array<string> = []
  if (section.trajectory.length > 0) clauses.push(trajectoryClause(section.trajectory))
  // A discontinuity's own message already names what would be accepted (extend, rewarm, allowing it).
  for (const reason of section.reasons) {
    clauses.push(describeReason(reason))
    if (reason._tag === "ResumeStepBeyondTotal") {
      instead.push(`set steps above ${reason.resumeStep}, the checkpoint's step`)
    } else if (reason._tag === "ScheduleKeepMismatch" && section.trajectory.length === 0 && policy !== undefined) {
      instead.push(`a policy with "schedule": "extend": ${policyJson(policy, { schedule: "extend" })}`)
    }
  }
  if (section.trajectory.length > 0) {
    instead.push("--resume continue loads the same state and extends the stored schedule to the new total, no LR jump")
  }
  // A schedule field changed on its own (e.g. a default that resolves differently now): keeping
  // its old value keeps the schedule.
  const scheduleFields = section.trajectory.filter((f) => f.path.startsWith("schedule."))
  if (scheduleFields.length > 0) {
    instead.push(`resume with ${joinAnd(scheduleFields.map((f) => `--set ${f.path}=${showValue(f.old)}`))}`)
  }
  return { summary: clauses.join("; "), instead: [...new Set(instead)], details: [] }
}

/** Trajectory changes outside the sections above (e.g. `kernels.*`). */
const trajectoryGroup = ({ section }: GroupInput): RejectionGroup => ({
  summary: trajectoryClause(section.trajectory),
  instead: [EXACT_INSTEAD],
  details: []
})

const BUILDERS: Record<Section, (input: GroupInput) => RejectionGroup> = {
  schedule: scheduleGroup,
  model: modelGroup,
  optimizer: optimizerGroup,
  data: dataGroup,
  trajectory: trajectoryGroup
}

const ORDER: ReadonlyArray<Section> = ["schedule", "model", "optimizer", "data", "trajectory"]

/** The reasons of `error` grouped by cause; reasons without a known cause form a group each. */
export const groupRejection = (error: PlanRejected, verbose = false): Array<RejectionGroup> => {
  const sections = new Map<Section, SectionFindings>(ORDER.map((s) => [s, { reasons: [], trajectory: [] }]))
  const singles: Array<RejectionGroup> = []
  for (const reason of error.reasons) {
    if (reason._tag === "TrajectoryChanged") {
      for (const field of reason.fields) sections.get(sectionOf(field.path))!.trajectory.push(field)
      continue
    }
    const section = SECTION_OF_TAG[reason._tag]
    if (section !== undefined) sections.get(section)!.reasons.push(reason)
    else singles.push({ summary: describeReason(reason), instead: [], details: [] })
  }
  const groups: Array<RejectionGroup> = []
  for (const name of ORDER) {
    const section = sections.get(name)!
    if (section.reasons.length === 0 && section.trajectory.length === 0) continue
    groups.push(BUILDERS[name]({
      section,
      policy: error.context?.policy,
      changes: error.context?.changedFields ?? [],
      parameters: error.context?.parameters,
      verbose
    }))
  }
  return [...groups, ...singles]
}

/**
 * The rejection as printed: one numbered entry per cause with what to do instead; with `verbose`,
 * every tensor under its cause too.
 */
export const renderRejection = (error: PlanRejected, options: { readonly verbose?: boolean } = {}): string => {
  const verbose = options.verbose ?? false
  const groups = groupRejection(error, verbose)
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`
  const lines = [
    `resume plan rejected (${count(groups.length, "cause")}, ${
      count(error.reasons.length, "reason")
    }); no step was run:`
  ]
  groups.forEach((group, i) => {
    const number = `  ${i + 1}. `
    const indent = " ".repeat(number.length)
    lines.push(`${number}${group.summary}`)
    if (verbose) { for (const detail of group.details) lines.push(`${indent}  ${detail}`) }
    for (const suggestion of group.instead) lines.push(`${indent}instead: ${suggestion}`)
  })
  return lines.join("\n")
}
