/** The data component: where the data cursor resumes, and whether the stored position still applies. */
import type { CheckpointState } from "../../checkpoint/checkpointState.ts"
import type { DataPlan } from "../plan.ts"
import type { Actions } from "./actions.ts"
import type { Findings } from "./findings.ts"
import type { PlanInput } from "./input.ts"

export const planData = (
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
      findings.warnings.push(
        `data reset with step keep: the data is read again from sample 0 while the steps continue from ${k}`
      )
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
  if (state.data.seed !== config.seed) {
    findings.reasons.push({ _tag: "DataSeedChanged", old: state.data.seed, new: config.seed })
  }
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
