/**
 * The demo's findings as text (printed and saved as summary.txt), as rows and notes of the HTML
 * report, and as JSON (demo.json).
 */
import type { SummaryRow } from "../report/summary.ts"
import type { WrittenReport } from "../report/writeReport.ts"
import { describeReason } from "../resume/plan.ts"
import type { ClampRow } from "./clamp.ts"
import type { DemoResult, RejectionOutcome, VariantOutcome } from "./outcome.ts"
import type { DemoSettings } from "./settings.ts"

export type DemoFindings = Pick<DemoResult, "settings" | "variants" | "rejections" | "clamp">

const DASH = "—"

const lrText = (x: number | undefined): string => x === undefined ? DASH : x.toExponential(3)

const lossText = (x: number | undefined): string =>
  x === undefined ? DASH : Number.isFinite(x) ? x.toFixed(4) : String(x)

const jumpRatio = (v: VariantOutcome): number | undefined =>
  v.lrBefore === undefined || v.lrAfter === undefined ? undefined : v.lrBefore === 0 ? Infinity : v.lrAfter / v.lrBefore

const jumpText = (v: VariantOutcome): string => {
  const ratio = jumpRatio(v)
  return ratio === undefined ? DASH : `×${Number(ratio.toPrecision(4))}`
}

const deltaText = (v: VariantOutcome): string => {
  if (v.name === "baseline") return DASH
  const { commonSteps, maxAbsDelta, firstDifferentStep } = v.vsBaseline
  if (maxAbsDelta === 0 && firstDifferentStep === undefined) return `0 (bit-identical, ${commonSteps} steps)`
  return `${Number(maxAbsDelta.toPrecision(4))} (${commonSteps} steps; differs from step ${firstDifferentStep ?? DASH})`
}

/** Left-aligned text columns, the numeric ones right-aligned. */
const textTable = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  right: ReadonlySet<number>
) => {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)]
}

const settingsLines = (s: DemoSettings): Array<string> => {
  const model = s.base.model as Record<string, unknown>
  const batch = s.base.batch as Record<string, unknown>
  const optimizer = s.base.optimizer as Record<string, unknown>
  const schedule = s.base.schedule as Record<string, unknown>
  return [
    `model: llama, dim ${model.dim}, ${model.layers} layer(s), ${model.heads} heads; ` +
    `${batch.global} windows of ${model.seqLen} bytes of Moby-Dick per step; AdamW, peak LR ${optimizer.lr}`,
    `schedule: warmup-decay (torchtitan's original default): ${s.warmupSteps} warm-up steps, then linear decay ` +
    `to ${schedule.minLrFactor}× the peak at the last step`,
    `N = ${s.steps} steps; stopped at k = ${s.resumeStep}; the changed variants train to N' = ${s.extendedSteps}`
  ]
}

const variantHeader = (s: DemoSettings): Array<string> => [
  "",
  "variant",
  "how it ran",
  "steps",
  "max |Δloss| vs (a)",
  "lr at k: before",
  "after",
  "jump",
  `loss bump ${stepRange(s)}`,
  "final val loss"
]

const stepRange = (s: DemoSettings): string =>
  s.bumpSteps.from === s.bumpSteps.to ? `step ${s.bumpSteps.from}` : `steps ${s.bumpSteps.from}–${s.bumpSteps.to}`

const bumpText = (x: number | undefined): string => x === undefined ? DASH : `${x >= 0 ? "+" : ""}${x.toFixed(4)}`

const variantCells = (v: VariantOutcome): Array<string> => [
  `(${v.label})`,
  v.name,
  v.policy,
  String(v.totalSteps),
  deltaText(v),
  lrText(v.lrBefore),
  lrText(v.lrAfter),
  jumpText(v),
  bumpText(v.lossBump),
  lossText(v.finalValLoss)
]

const rejectionLines = (r: RejectionOutcome): Array<string> => [
  `(${r.label}) ${r.description}:`,
  ...r.text.split("\n").map((line) => `  ${line}`),
  `  ${r.runDir}: ${r.wroteNothing ? "nothing was written" : "EXISTS — something was written"}`
]

const clampHeading = (s: DemoSettings): string =>
  `(f) the baseline's schedule (resolved for N = ${s.steps}) run past its end, as keeping it for N' = ${s.extendedSteps} ` +
  `would (the planner refuses that: e2); continuum clamps the decay progress p at 1:`

const clampLines = (s: DemoSettings, rows: ReadonlyArray<ClampRow>): Array<string> => [
  clampHeading(s),
  ...textTable(
    ["t", "continuum lr(t)", "p unclamped (torchtitan)"],
    rows.map((r) => [String(r.t), lrText(r.clamped), lrText(r.unclamped)]),
    new Set([0, 1, 2])
  ).map((line) => `  ${line}`)
]

/** The printed summary. */
export const renderSummary = (f: DemoFindings): string => {
  const k = f.settings.resumeStep
  return [
    "continuum demo: the step count changed on resume",
    ...settingsLines(f.settings),
    "",
    ...textTable(variantHeader(f.settings), f.variants.map(variantCells), new Set([3, 5, 6, 7, 8, 9])),
    `lr at k: before = S(${k}), the LR of update ${
      k + 1
    } in the uninterrupted baseline; after = the LR this run used for it`,
    `loss bump: mean training loss over ${stepRange(f.settings)} minus the baseline's over the same steps ` +
    `(step ${k + 2} is the first whose loss the LR of update ${k + 1} can change)`,
    "",
    "(e) the planner refuses, before any step:",
    ...f.rejections.flatMap(rejectionLines),
    "",
    ...clampLines(f.settings, f.clamp)
  ].join("\n")
}

/** The summary table of the HTML report: one row per variant, numbers as numbers. */
export const summaryRows = (f: DemoFindings): Array<SummaryRow> =>
  f.variants.map((v) => ({
    variant: `(${v.label}) ${v.name}`,
    "how it ran": v.policy,
    steps: v.totalSteps,
    "max |Δloss| vs baseline": v.name === "baseline" ? DASH : v.vsBaseline.maxAbsDelta,
    "common steps": v.name === "baseline" ? DASH : v.vsBaseline.commonSteps,
    [`lr at k = ${f.settings.resumeStep}, before`]: v.lrBefore ?? DASH,
    after: v.lrAfter ?? DASH,
    jump: jumpRatio(v) ?? DASH,
    [`loss bump, ${stepRange(f.settings)}`]: v.lossBump ?? DASH,
    "final val loss": v.finalValLoss ?? DASH
  }))

/** The notes under the report's charts: what each variant is, the refusals, the clamp. */
export const reportNotes = (f: DemoFindings): Array<string> => [
  ...settingsLines(f.settings),
  ...f.variants.map((v) => `(${v.label}) ${v.name}: ${v.description}.`),
  "The exact curve lies exactly on the baseline's: its line hides the baseline's.",
  ...f.rejections.flatMap((r) => [
    `(${r.label}) rejected — ${r.description}:`,
    ...r.rejection.reasons.map((reason) => `  ${describeReason(reason)}`)
  ]),
  clampHeading(f.settings),
  ...f.clamp.map((r) => `  t = ${r.t}: continuum ${lrText(r.clamped)}, unclamped ${lrText(r.unclamped)}`)
]

const finite = (x: number | undefined): number | string | undefined =>
  x === undefined ? undefined : Number.isFinite(x) ? x : String(x)

/** `demo.json`: the settings and findings, machine-readable. */
export const demoJson = (f: DemoFindings, report: WrittenReport) => ({
  settings: f.settings,
  variants: f.variants.map((v) => ({
    label: v.label,
    name: v.name,
    runDir: v.runDir,
    policy: v.policy,
    totalSteps: v.totalSteps,
    maxAbsLossDelta: finite(v.vsBaseline.maxAbsDelta),
    commonSteps: v.vsBaseline.commonSteps,
    firstDifferentStep: v.vsBaseline.firstDifferentStep,
    lrBefore: v.lrBefore,
    lrAfter: v.lrAfter,
    jumpRatio: finite(jumpRatio(v)),
    lossBump: finite(v.lossBump),
    finalValLoss: finite(v.finalValLoss),
    resumes: v.series.resumes
  })),
  rejections: f.rejections.map((r) => ({
    label: r.label,
    description: r.description,
    reasons: r.rejection.reasons.map(describeReason),
    wroteNothing: r.wroteNothing
  })),
  clamp: f.clamp,
  report
})
