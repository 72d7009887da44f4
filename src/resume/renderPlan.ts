/**
 * The text `continuum plan` prints: per component the action and what it means, the LR at the
 * resume step before and after, the data cursor, the changed configuration and the warnings.
 */
import { type ResumePlan, showValue } from "./plan.ts"

/** A number with at most 6 significant digits, as a person reads it. */
export const formatNumber = (x: number): string => {
  if (x === Infinity) return "∞"
  if (x === -Infinity) return "−∞"
  if (!Number.isFinite(x)) return String(x)
  return String(Number(x.toPrecision(6)))
}

const LABEL_WIDTH = 11
const ACTION_WIDTH = 10

/** One component line, with continuation lines indented under its detail column. */
const component = (name: string, action: string, details: ReadonlyArray<string>): Array<string> => {
  const indent = " ".repeat(LABEL_WIDTH + ACTION_WIDTH)
  return details.map((detail, i) =>
    i === 0 ? `${name.padEnd(LABEL_WIDTH)}${action.padEnd(ACTION_WIDTH)}${detail}` : `${indent}${detail}`
  )
}

const describeSource = (plan: ResumePlan): string =>
  plan.source.kind === "checkpoint"
    ? `checkpoint ${plan.source.location} (run ${plan.source.runId}, step ${plan.source.step})`
    : `weights file ${plan.source.file}`

const modelLines = (plan: ResumePlan): Array<string> => {
  const { action, load, init } = plan.model
  if (action === "init") return component("model", action, [`all ${init.length} parameters initialized fresh`])
  const details = [`${load.length} parameters loaded, ${init.length} initialized fresh`]
  if (init.length > 0) details.push(`fresh: ${init.join(", ")}`)
  return component("model", action, details)
}

const optimizerLines = (plan: ResumePlan): Array<string> => {
  const { action, kind, step } = plan.optimizer
  return component(
    "optimizer",
    action,
    [action === "load" ? `${kind}, state after ${step} updates` : `${kind}, fresh state`]
  )
}

const scheduleLines = (plan: ResumePlan): Array<string> => {
  const { action, lrBefore, lrAfter, jumpRatio } = plan.schedule
  const at = plan.startStep
  const details = lrBefore === null
    ? [`lr at step ${at}: ${formatNumber(lrAfter)} (no stored schedule)`]
    : [
      `lr at step ${plan.resumeStep}: ${formatNumber(lrBefore)} before → ${formatNumber(lrAfter)} after` +
      (action === "restart" ? ` (restarts at step ${at})` : "")
    ]
  if (jumpRatio !== null && jumpRatio !== 1) details.push(`jump ×${formatNumber(jumpRatio)}`)
  return component("schedule", action, details)
}

const dataLines = (plan: ResumePlan): Array<string> => {
  const { action, cursor, samplesSeen, note } = plan.data
  const details = [`cursor at sample ${cursor}; ${samplesSeen} samples seen so far`]
  if (note !== undefined) details.push(note)
  return component("data", action, details)
}

const stepLines = (plan: ResumePlan): Array<string> =>
  component("step", plan.step.action, [`next update is step ${plan.step.start + 1} of ${plan.totalSteps}`])

export const renderPlan = (plan: ResumePlan): string => {
  const p = plan.policy
  const lines = [
    `resume plan: policy ${plan.policyName} ` +
    `(model ${p.model}, optimizer ${p.optimizer}, schedule ${p.schedule}, data ${p.data}, step ${p.step})`,
    `source: ${describeSource(plan)}`,
    `resume step ${plan.resumeStep}, start step ${plan.startStep}, total steps ${plan.totalSteps}`,
    // The changes first: they are what the actions below answer to.
    "",
    "changed fields (field, checkpoint → this run):"
  ]
  if (plan.changedFields.length === 0) lines.push("  (none)")
  else {
    const width = Math.max(...plan.changedFields.map((c) => c.path.length))
    for (const c of plan.changedFields) {
      const marker = c.trajectory ? "  [trajectory]" : ""
      lines.push(`  ${c.path.padEnd(width)}  ${showValue(c.old)} → ${showValue(c.new)}${marker}`)
    }
  }
  lines.push(
    "",
    ...modelLines(plan),
    ...optimizerLines(plan),
    ...scheduleLines(plan),
    ...dataLines(plan),
    ...stepLines(plan)
  )
  lines.push("", "warnings:")
  if (plan.warnings.length === 0) lines.push("  (none)")
  else for (const w of plan.warnings) lines.push(`  - ${w}`)
  return lines.join("\n")
}
