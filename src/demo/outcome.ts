/** What the demo found: one outcome per variant and per refused plan, and the result as a whole. */
import type { RunSeries } from "../report/series.ts"
import type { WrittenReport } from "../report/writeReport.ts"
import type { PlanRejected, ResumePlan } from "../resume/plan.ts"
import type { ClampRow } from "./clamp.ts"
import type { LossComparison } from "./compare.ts"
import type { DemoSettings } from "./settings.ts"

export type VariantName = "baseline" | "exact" | "rebuild" | "extend"

export interface VariantOutcome {
  /** `a` … `d`, as in the printed summary. */
  readonly label: string
  readonly name: VariantName
  readonly runDir: string
  readonly description: string
  /** How the run started or resumed, as a person reads it. */
  readonly policy: string
  readonly totalSteps: number
  /** The accepted resume plan (absent for the baseline). */
  readonly plan: ResumePlan | undefined
  /** The curves as the report reads them from the run's metrics file. */
  readonly series: RunSeries
  readonly vsBaseline: LossComparison
  /** `S(k)`: the LR the uninterrupted baseline used for update k + 1 (absent for the baseline). */
  readonly lrBefore: number | undefined
  /** The LR this run used for update k + 1 (absent for the baseline). */
  readonly lrAfter: number | undefined
  /**
   * Mean training loss over `settings.bumpSteps` minus the baseline's over the same steps (absent
   * for the baseline): the bump a jump in the LR causes.
   */
  readonly lossBump: number | undefined
  readonly finalValLoss: number | undefined
}

export interface RejectionOutcome {
  /** `e1`, `e2`. */
  readonly label: string
  readonly description: string
  readonly rejection: PlanRejected
  /** The rejection as `continuum plan` prints it. */
  readonly text: string
  /** The rejected run's directory, which must not exist afterwards: nothing ran, nothing was written. */
  readonly runDir: string
  readonly wroteNothing: boolean
}

export interface DemoResult {
  readonly settings: DemoSettings
  readonly variants: ReadonlyArray<VariantOutcome>
  readonly rejections: ReadonlyArray<RejectionOutcome>
  /** The baseline's schedule past its total, clamped and unclamped. */
  readonly clamp: ReadonlyArray<ClampRow>
  readonly report: WrittenReport
  /** The text the demo prints (also written to `summary.txt`). */
  readonly summary: string
}
