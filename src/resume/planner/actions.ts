/** The policy's actions, checked once and then read by every component's planner. */
import { showValue } from "../plan.ts"
import type { ResumePolicy } from "../policy.ts"
import type { Findings } from "./findings.ts"

/** The policy's actions, each `undefined` when the value is not an action of its component. */
export interface Actions {
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
export const checkPolicy = (policy: ResumePolicy, findings: Findings): Actions => {
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

/** What the policy needs from the checkpoint's non-tensor state. */
export const needsState = (actions: Actions): boolean =>
  actions.optimizer === "load" || actions.data === "load" || actions.step === "keep" ||
  (actions.schedule !== undefined && actions.schedule !== "restart")

export const isExact = (actions: Actions): boolean =>
  actions.model === "load" && actions.optimizer === "load" && actions.schedule === "keep" &&
  actions.data === "load" && actions.step === "keep"
