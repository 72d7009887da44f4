/**
 * The demo in quick mode (tiny model, N = 16, k = 12, N' = 32): every variant is a real run, the
 * report is written, and what the demo claims holds on the runs it made.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { clampRows, unclampedLr } from "../../src/demo/clamp.ts"
import { compareLosses, meanLossDelta } from "../../src/demo/compare.ts"
import { type DemoResult, runDemo, type VariantName, type VariantOutcome } from "../../src/demo/demo.ts"
import { DemoError } from "../../src/demo/DemoError.ts"
import { historyUpTo } from "../../src/demo/fork.ts"
import { DEMO_MARKER, prepareOutDir } from "../../src/demo/outDir.ts"
import { demoSettings } from "../../src/demo/settings.ts"
import { lr, resolveSchedule } from "../../src/optim/schedule.ts"
import type { RunSeries } from "../../src/report/series.ts"
import { readMetrics } from "../../src/train/metricsLine.ts"
import { markItems } from "../report/fixtures.ts"
import { tempDir } from "../support/tinyRun.ts"

const run = <A, E>(effect: Effect.Effect<A, E, any>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeFileSystem.layer)) as Effect.Effect<A, E>)

let demo: DemoResult
let outDir: string
const variant = (name: VariantName): VariantOutcome => demo.variants.find((v) => v.name === name)!

beforeAll(async () => {
  outDir = NodePath.join(tempDir("continuum-demo-"), "out")
  demo = await run(runDemo({ outDir, quick: true }))
})
afterAll(() => NodeFs.rmSync(NodePath.dirname(outDir), { recursive: true, force: true }))

describe("demo --quick", () => {
  it("runs each variant in its own run directory and writes the report", () => {
    const { steps: N, resumeStep: k, extendedSteps: N2 } = demo.settings
    assert.deepStrictEqual([N, k, N2], [16, 12, 32])
    for (const name of ["baseline", "exact", "rebuild", "extend"] as const) {
      assert.isTrue(NodeFs.existsSync(NodePath.join(outDir, name, "metrics.jsonl")), name)
      assert.isTrue(NodeFs.existsSync(NodePath.join(outDir, name, "checkpoints")), name)
    }
    assert.strictEqual(demo.report.html, NodePath.join(outDir, "report", "report.html"))
    for (const file of [demo.report.html, ...demo.report.svg]) assert.isAbove(NodeFs.statSync(file).size, 1000, file)
    assert.deepStrictEqual(demo.report.svg.map((f) => NodePath.basename(f)), ["loss.svg", "lr.svg"])
    const html = NodeFs.readFileSync(demo.report.html, "utf8")
    assert.strictEqual((html.match(/<svg[\s>]/g) ?? []).length, 2)
    for (const name of ["baseline", "exact", "rebuild", "extend"]) assert.include(html, name)
    assert.include(html, "allow the discontinuity")
    // the curves' lengths: each run trained to its own total
    assert.deepStrictEqual(demo.variants.map((v) => v.series.steps.length), [N, N, N2, N2])
    assert.isTrue(NodeFs.existsSync(NodePath.join(outDir, DEMO_MARKER)))
    assert.strictEqual(NodeFs.readFileSync(NodePath.join(outDir, "summary.txt"), "utf8"), demo.summary)
  })

  it("the loss chart has a panel zoomed on the steps after k, where the variants differ", () => {
    const { resumeStep: k, extendedSteps: N2 } = demo.settings
    const loss = NodeFs.readFileSync(demo.report.svg[0]!, "utf8")
    assert.include(loss, `steps ${k}–${N2}, own loss scale`)
    // Every variant is drawn again in the panel (the smoothed line, one per run).
    assert.strictEqual(markItems(loss, "zoom_loss_smooth").length, 4)
  })

  it("exact: stopped at k and resumed, the losses are the baseline's bit for bit", () => {
    const exact = variant("exact")
    const k = demo.settings.resumeStep
    assert.strictEqual(exact.vsBaseline.maxAbsDelta, 0)
    assert.strictEqual(exact.vsBaseline.commonSteps, demo.settings.steps)
    assert.isUndefined(exact.vsBaseline.firstDifferentStep)
    assert.deepStrictEqual(exact.series.resumes, [{ step: k, policy: "exact", schedule: "keep" }])
    // straight from the files, not through the report's reader
    const losses = (dir: string) =>
      readMetrics(NodePath.join(outDir, dir, "metrics.jsonl")).filter((r) => "loss" in r).map((
        r
      ) => [r.step, r.loss, r.lr])
    assert.deepStrictEqual(losses("exact"), losses("baseline"))
    assert.strictEqual(exact.plan?.policyName, "exact")
    assert.strictEqual(exact.finalValLoss, variant("baseline").finalValLoss)
    assert.strictEqual(exact.lossBump, 0)
  })

  it("rebuild: the LR jumps at k, as the plan said, and the run goes on to N'", () => {
    const rebuild = variant("rebuild")
    const ratio = rebuild.lrAfter! / rebuild.lrBefore!
    assert.isAbove(Math.abs(ratio - 1), 0.5, `jump ×${ratio}`)
    assert.strictEqual(rebuild.plan?.schedule.action, "rebuild")
    assert.strictEqual(rebuild.plan?.policy.allowDiscontinuity, true)
    assert.strictEqual(rebuild.plan?.schedule.lrBefore, rebuild.lrBefore)
    assert.strictEqual(rebuild.plan?.schedule.lrAfter, rebuild.lrAfter)
    // identical up to k (the same checkpoint), different after
    assert.strictEqual(rebuild.vsBaseline.firstDifferentStep, demo.settings.resumeStep + 2)
    assert.strictEqual(rebuild.series.steps.at(-1)?.step, demo.settings.extendedSteps)
    assert.deepStrictEqual(demo.settings.bumpSteps, { from: 14, to: 15 })
    assert.notStrictEqual(rebuild.lossBump, 0)
    assert.deepStrictEqual(rebuild.series.resumes, [{
      step: demo.settings.resumeStep,
      policy: "custom",
      schedule: "rebuild"
    }])
  })

  it("extend: the LR at k is the baseline's S(k), so the schedule is continuous", () => {
    const extend = variant("extend")
    const baseline = variant("baseline").series
    const k = demo.settings.resumeStep
    const baselineLr = baseline.steps.find((p) => p.step === k + 1)!.lr
    assert.strictEqual(extend.lrAfter, baselineLr)
    assert.strictEqual(extend.lrBefore, baselineLr)
    assert.strictEqual(extend.plan?.schedule.action, "extend")
    assert.strictEqual(extend.plan?.schedule.jumpRatio, 1)
    // ... and from there it decays more slowly, to the floor at N'
    const lrs = extend.series.steps.filter((p) => p.step > k).map((p) => p.lr)
    for (let i = 1; i < lrs.length; i++) assert.isAtMost(lrs[i]!, lrs[i - 1]!)
    assert.isAbove(lrs[demo.settings.steps - k]!, baseline.steps.at(-1)!.lr)
  })

  it("the planner's rejections are reported with their messages, and nothing ran for them", () => {
    const [rebuild, exact] = demo.rejections
    assert.deepStrictEqual(rebuild!.rejection.reasons.map((r) => r._tag), ["ScheduleDiscontinuity"])
    assert.deepStrictEqual(exact!.rejection.reasons.map((r) => r._tag), ["TrajectoryChanged", "ScheduleKeepMismatch"])
    for (const r of demo.rejections) {
      assert.isTrue(r.wroteNothing, r.runDir)
      assert.isFalse(NodeFs.existsSync(r.runDir), r.runDir)
      assert.include(demo.summary, r.text.split("\n")[1]!.trim())
    }
    assert.include(demo.summary, "schedule rebuild at step 12 moves the LR")
    assert.include(demo.summary, "steps 16 → 32 changes the trajectory, which exact keeps unchanged")
    assert.include(demo.summary, "totalSteps 16 → 32")
  })

  it("past the old total the kept schedule holds its floor; the unclamped formula goes negative", () => {
    const floor = demo.clamp.at(-1)!.clamped
    assert.isAbove(floor, 0)
    for (const row of demo.clamp.filter((r) => r.t >= demo.settings.steps)) assert.strictEqual(row.clamped, floor)
    assert.isBelow(demo.clamp.at(-1)!.unclamped, 0)
  })

  it("the summary prints one row per variant with the LR before and after k", () => {
    const lines = demo.summary.split("\n")
    for (const label of ["(a)", "(b)", "(c)", "(d)"]) assert.isTrue(lines.some((l) => l.startsWith(label)), label)
    assert.include(lines.find((l) => l.startsWith("(b)"))!, "0 (bit-identical, 16 steps)")
    assert.include(demo.summary, `report: ${demo.report.html}`)
  })
})

describe("demo pieces", () => {
  const series = (losses: ReadonlyArray<number>, from = 1): RunSeries => ({
    name: "s",
    steps: losses.map((loss, i) => ({ step: from + i, loss, lr: 0.1 })),
    evals: [],
    resumes: []
  })

  it("compareLosses: zero only for identical values; NaN matches only NaN", () => {
    assert.deepStrictEqual(compareLosses(series([1, 2, NaN]), series([1, 2, NaN])), {
      commonSteps: 3,
      maxAbsDelta: 0,
      firstDifferentStep: undefined
    })
    assert.deepStrictEqual(compareLosses(series([1, 2.5, 3]), series([1, 2])), {
      commonSteps: 2,
      maxAbsDelta: 0.5,
      firstDifferentStep: 2
    })
    assert.strictEqual(compareLosses(series([1, NaN]), series([1, 2])).maxAbsDelta, Infinity)
    assert.strictEqual(meanLossDelta(series([1, 3, 5]), series([1, 2, 3]), 2, 3), 1.5)
    assert.isUndefined(meanLossDelta(series([1]), series([1]), 5, 6))
  })

  it("historyUpTo keeps steps and evaluations to k and drops a marker at k", () => {
    const text = [
      { step: 0, valLoss: 5 },
      { step: 1, loss: 4, lr: 0.1 },
      { step: 2, loss: 3, lr: 0.1 },
      { step: 2, resume: "exact", schedule: "keep" },
      { step: 3, loss: 2, lr: 0.1 }
    ].map((r) => JSON.stringify(r)).join("\n") + "\n{torn"
    const kept = historyUpTo(text, 2).trim().split("\n").map((l) => JSON.parse(l) as { step: number })
    assert.deepStrictEqual(kept.map((r) => r.step), [0, 1, 2])
    assert.isFalse(kept.some((r) => "resume" in r))
    assert.include(historyUpTo(text, 3), "\"resume\":\"exact\"")
  })

  it("unclampedLr equals lr inside the run and falls below zero past it", () => {
    const spec = resolveSchedule(
      { kind: "warmup-decay", warmupSteps: 2, decayShape: "linear", minLrFactor: 0.1 },
      1e-2,
      10
    )
    const rows = clampRows(spec, 20)
    assert.deepStrictEqual(rows.map((r) => r.t), [9, 10, 15, 19])
    assert.strictEqual(rows[0]!.clamped, rows[0]!.unclamped)
    for (let t = 0; t < 10; t++) assert.strictEqual(unclampedLr(spec, t), lr(spec, t), `t = ${t}`)
    assert.isBelow(rows[3]!.unclamped, 0)
    assert.closeTo(rows[3]!.clamped, 1e-3, 1e-15)
  })

  it("settings: too few steps are refused, naming the flag", async () => {
    const error = await run(Effect.flip(demoSettings({ outDir: "x", steps: 5 })))
    assert.instanceOf(error, DemoError)
    assert.include(error.message, "--steps 5")
  })

  it("the output directory: an earlier demo's output is replaced, anything else refused", async () => {
    const dir = tempDir("continuum-demo-out-")
    const earlier = NodePath.join(dir, "earlier")
    NodeFs.mkdirSync(NodePath.join(earlier, "baseline", "checkpoints"), { recursive: true })
    NodeFs.writeFileSync(NodePath.join(earlier, DEMO_MARKER), "{}")
    NodeFs.writeFileSync(NodePath.join(earlier, "mine.txt"), "kept")
    await run(prepareOutDir(earlier))
    assert.deepStrictEqual(NodeFs.readdirSync(earlier), ["mine.txt"])

    const foreign = NodePath.join(dir, "foreign")
    NodeFs.mkdirSync(foreign)
    NodeFs.writeFileSync(NodePath.join(foreign, "notes.txt"), "precious")
    const error = await run(Effect.flip(prepareOutDir(foreign)))
    assert.instanceOf(error, DemoError)
    assert.include(error.message, "not an earlier demo's output")
    assert.deepStrictEqual(NodeFs.readdirSync(foreign), ["notes.txt"])

    await run(prepareOutDir(NodePath.join(dir, "new", "out")))
    assert.isTrue(NodeFs.existsSync(NodePath.join(dir, "new", "out")))
  })
})
