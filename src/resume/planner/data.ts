/** The data component: where the data cursor resumes, and whether the stored position still applies. */
import type { CheckpointState } from "../../checkpoint/checkpointState.ts"
import type { RunConfig } from "../../config/RunConfig.ts"
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
  const plan: DataPlan = { action: "load", cursor, samplesSeen, tokensSeen }
  const notes = [samplesNote(state, config, cursor, (actions.step === "keep" ? k : 0) + 1), ranksNote(state, input)]
    .filter((n) => n !== undefined)
  return notes.length === 0 ? plan : { ...plan, note: notes.join("; ") }
}

/** When B changes, which samples each step reads from now on. */
const samplesNote = (state: CheckpointState, config: RunConfig, cursor: number, first: number) => {
  const oldB = state.data.geometry.global
  const newB = config.batch.global
  return oldB === newB ? undefined : `batch.global ${oldB} → ${newB}: the step↔sample mapping changes: step s now ` +
    `starts at sample ${cursor} + (s − ${first})·${newB} instead of ${cursor} + (s − ${first})·${oldB}`
}

/** When P or A changes: who computes which micro-batch from now on (the sum over them does not change). */
const ranksNote = (state: CheckpointState, input: PlanInput) => {
  const old = state.data.geometry
  const { global, micro } = input.config.batch
  const ranks = input.ranks
  if (ranks === undefined || (ranks === old.dp && micro === old.micro)) return undefined
  const microBatches = global / micro
  const accumulation = (g: { readonly global: number; readonly micro: number; readonly dp: number }) =>
    Math.ceil(g.global / g.micro / g.dp)
  return `ranks ${old.dp} → ${ranks}, accumulation ${accumulation(old)} → ${
    accumulation({ global, micro, dp: ranks })
  }: each step's ${microBatches} micro-batches of ${micro} samples are shared out as j = r, r + ${ranks}, … ` +
    `to rank r; the step gradient stays their sum in order of j`
}
