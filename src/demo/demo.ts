/**
 * The demo: torchtitan's resume failure and continuum's answer, as real runs on Moby-Dick.
 *
 * (a) baseline — an uninterrupted run of N steps with warm-up + linear decay (`warmup-decay`).
 * (b) exact    — the same run stopped at the checkpoint of step k and resumed `exact`: the loss
 *                curve is the baseline's, bit for bit.
 * (c) rebuild  — from that checkpoint, a longer run (N' = 2N) with the schedule rebuilt for N' and
 *                the discontinuity explicitly allowed (what torchtitan does): the LR jumps at k.
 * (d) extend   — the same change under `continue`: the decay is stretched to N' from S(k), so the
 *                LR is continuous at k.
 * (e) the planner refusing the unsafe variants before any step: rebuild without allowing the
 *     jump, and exact with a changed step count.
 * (f) the old schedule evaluated past its total: continuum's clamped LR against the unclamped one.
 *
 * Every variant is a run directory under the output directory; the report charts them all.
 */
import { Effect, FileSystem } from "effect"
import * as path from "node:path"
import { checkpointsDir, stepDirName } from "../checkpoint/layout.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { type ResolvedWsd, resolveSchedule } from "../optim/schedule.ts"
import type { ReportError } from "../report/ReportError.ts"
import { loadRunSeries } from "../report/series.ts"
import { writeReport } from "../report/writeReport.ts"
import { presets, rebuildAllowingJump, type ResumePolicy } from "../resume/policy.ts"
import { renderRejection } from "../resume/renderRejection.ts"
import type { OnProgress } from "../tensor/progress.ts"
import type { TrainEvent } from "../train/events.ts"
import { clampRows } from "./clamp.ts"
import { compareLosses, finalValLoss, lrOfStep, meanLossDelta } from "./compare.ts"
import { DemoError } from "./DemoError.ts"
import { forkMetrics } from "./fork.ts"
import type { DemoResult, VariantName, VariantOutcome } from "./outcome.ts"
import { DEMO_MARKER, prepareOutDir } from "./outDir.ts"
import { type DemoOptions, type DemoSettings, demoSettings, variantConfig } from "./settings.ts"
import { demoJson, renderSummary, reportNotes, summaryRows } from "./summary.ts"
import { expectRejection, type LegStart, trainLeg } from "./train.ts"

export type { DemoResult, RejectionOutcome, VariantName, VariantOutcome } from "./outcome.ts"

/** The same without the permission: the planner must refuse the jump. */
export const rebuildStrict: ResumePolicy = {
  model: "load",
  optimizer: "load",
  schedule: "rebuild",
  data: "load",
  step: "keep"
}

export interface DemoHooks {
  /** A line announcing each stage. */
  readonly onStage?: ((line: string) => void) | undefined
  /** Every training event of a leg that trains to `totalSteps` (progress display). */
  readonly onEvent?: ((variant: VariantName, totalSteps: number, event: TrainEvent) => void) | undefined
  /** The whole demo's progress: updates trained so far over all legs, out of every leg's updates. */
  readonly onProgress?: OnProgress | undefined
}

/** Runs every variant, writes the report and `demo.json`, and returns what it found. */
export const runDemo = (
  options: DemoOptions,
  hooks: DemoHooks = {}
): Effect.Effect<DemoResult, DemoError | ReportError, FileSystem.FileSystem> =>
  Effect.flatMap(demoSettings(options), (settings) => runDemoWith(settings, hooks))

/** The demo for explicit settings (another model, other step counts). */
export const runDemoWith = (
  settings: DemoSettings,
  hooks: DemoHooks = {}
): Effect.Effect<DemoResult, DemoError | ReportError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const { outDir, steps: N, resumeStep: k, extendedSteps: N2 } = settings
    yield* prepareOutDir(outDir)
    const fs = yield* FileSystem.FileSystem
    const dir = (name: string) => path.join(outDir, name)
    const stage = (line: string) => hooks.onStage?.(line)

    // Every update the legs train: the baseline N, the exact run N (stopped at k, then resumed),
    // and the two changed-steps variants N' − k each.
    const plannedSteps = 2 * N + 2 * (N2 - k)
    let trainedSteps = 0
    const leg = (name: VariantName, config: RunConfig, start: LegStart, stopAtCheckpoint?: number) =>
      trainLeg({
        variant: name,
        config,
        start,
        stopAtCheckpoint,
        onEvent: (event) => {
          if (event._tag === "Step") {
            trainedSteps += 1
            hooks.onProgress?.({ task: `demo ${name}`, done: trainedSteps, total: plannedSteps, unit: "steps" })
          }
          hooks.onEvent?.(name, config.steps, event)
        }
      })

    // (a) the reference trajectory
    stage(`(a) baseline: ${N} steps, warm-up + linear decay → ${dir("baseline")}`)
    const baselineConfig = yield* variantConfig(settings, dir("baseline"), N)
    yield* leg("baseline", baselineConfig, { _tag: "fresh" })

    // (b) the same run, stopped at k and recovered
    stage(`(b) exact: the same run stopped at step ${k} (checkpoint), then resumed exact → ${dir("exact")}`)
    const exactConfig = yield* variantConfig(settings, dir("exact"), N)
    yield* leg("exact", exactConfig, { _tag: "fresh" }, k)
    const checkpointK = path.join(checkpointsDir(dir("exact")), stepDirName(k))
    stage(`    stopped after the checkpoint ${checkpointK}; resuming exact`)
    const exact = yield* leg("exact", exactConfig, { _tag: "resume", policy: presets.exact })

    // (c) torchtitan: more steps, schedule rebuilt for N', the jump explicitly allowed
    stage(`(c) rebuild: from step ${k}, ${N2} steps with the schedule rebuilt (jump allowed) → ${dir("rebuild")}`)
    yield* forkMetrics(dir("exact"), dir("rebuild"), k)
    const rebuild = yield* leg("rebuild", yield* variantConfig(settings, dir("rebuild"), N2), {
      _tag: "resume",
      policy: rebuildAllowingJump,
      from: checkpointK
    })

    // (d) continuum: the same change under continue
    stage(`(d) extend: from step ${k}, ${N2} steps with continue (schedule extended) → ${dir("extend")}`)
    yield* forkMetrics(dir("exact"), dir("extend"), k)
    const extend = yield* leg("extend", yield* variantConfig(settings, dir("extend"), N2), {
      _tag: "resume",
      policy: presets.continue,
      from: checkpointK
    })

    // (e) what the planner refuses, before any step
    stage(`(e) the planner on the unsafe variants (nothing runs)`)
    const probe = (label: string, name: string, description: string, policy: ResumePolicy) =>
      Effect.gen(function*() {
        const runDir = path.join(dir("rejected"), name)
        const rejection = yield* expectRejection(name, yield* variantConfig(settings, runDir, N2), policy, checkpointK)
        const wroteNothing = !(yield* fs.exists(runDir).pipe(Effect.orElseSucceed(() => true)))
        return { label, description, rejection, text: renderRejection(rejection), runDir, wroteNothing }
      })
    const rejections = [
      yield* probe("e1", "rebuild", `rebuild to ${N2} steps without allowDiscontinuity`, rebuildStrict),
      yield* probe("e2", "exact", `exact with steps ${N} → ${N2}`, presets.exact)
    ]

    // (f) the old schedule past its total
    const clamp = clampRows(
      resolveSchedule(baselineConfig.schedule, baselineConfig.optimizer.lr, baselineConfig.steps),
      N2
    )

    const named = [
      {
        label: "a",
        name: "baseline",
        plan: undefined,
        totalSteps: N,
        policy: "fresh",
        description: "uninterrupted run"
      },
      {
        label: "b",
        name: "exact",
        plan: exact.plan,
        totalSteps: N,
        policy: "exact",
        description: `stopped at ${k}, resumed exact`
      },
      {
        label: "c",
        name: "rebuild",
        plan: rebuild.plan,
        totalSteps: N2,
        policy: "custom: schedule rebuild, allowDiscontinuity",
        description: `from ${k}, ${N2} steps, schedule rebuilt (torchtitan)`
      },
      {
        label: "d",
        name: "extend",
        plan: extend.plan,
        totalSteps: N2,
        policy: "continue: schedule extend",
        description: `from ${k}, ${N2} steps, schedule extended`
      }
    ] as const
    const series = yield* Effect.forEach(named, (v) => loadRunSeries(dir(v.name), v.name))
    const baseline = series[0]
    const variants: Array<VariantOutcome> = named.map((v, i) => ({
      ...v,
      runDir: dir(v.name),
      series: series[i],
      vsBaseline: compareLosses(series[i], baseline),
      lrBefore: v.plan === undefined ? undefined : lrOfStep(baseline, k + 1),
      lrAfter: v.plan === undefined ? undefined : lrOfStep(series[i], k + 1),
      lossBump: v.plan === undefined
        ? undefined
        : meanLossDelta(series[i], baseline, settings.bumpSteps.from, settings.bumpSteps.to),
      finalValLoss: finalValLoss(series[i])
    }))

    const partial = { settings, variants, rejections, clamp }
    const summary = renderSummary(partial)
    stage(`writing the report → ${dir("report")}`)
    const report = yield* writeReport(dir("report"), series, {
      title: `continuum demo: resuming with a changed step count (N = ${N}, k = ${k}, N' = ${N2})`,
      summary: summaryRows(partial),
      notes: reportNotes(partial),
      // After k the variants differ by a few hundredths of a nat; at full scale they overlap.
      zoomFrom: k
    })
    const write = (file: string, text: string) =>
      fs.writeFileString(file, text).pipe(
        Effect.mapError((e) => new DemoError({ variant: "out", reason: `cannot write ${file}: ${e.message}` }))
      )
    const text = `${summary}\nreport: ${report.html} (charts: ${report.svg.join(", ")})\n`
    yield* write(dir("summary.txt"), text)
    yield* write(dir(DEMO_MARKER), `${JSON.stringify(demoJson(partial, report), null, 2)}\n`)
    return { ...partial, report, summary: text }
  })
