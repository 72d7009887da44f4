import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { renderCharts } from "../../src/report/charts.ts"
import { chartData, distinctRunNames, lossSpec, MAX_POINTS_PER_LINE, resumeLabel } from "../../src/report/chartSpec.ts"
import type { RunSeries } from "../../src/report/series.ts"
import { baseline, extended, markItems, svgTexts, twoRuns } from "./fixtures.ts"

const stroke = (path: string) => /stroke="([^"]+)"/.exec(path)?.[1]

describe("renderCharts", () => {
  it.effect("draws one loss line (raw and smoothed) and one LR line per run, each in its own colour", () =>
    Effect.gen(function*() {
      const { lossSvg, lrSvg } = yield* renderCharts(twoRuns)
      for (
        const [svg, layer] of [[lossSvg, "loss_raw"], [lossSvg, "loss_smooth"], [lossSvg, "val_loss"], [
          lrSvg,
          "lr"
        ]] as const
      ) {
        const drawn = markItems(svg, layer)
        assert.strictEqual(drawn.length, 2, layer)
        assert.notStrictEqual(stroke(drawn[0]), stroke(drawn[1]), layer)
      }
      // validation points: one symbol per evaluation
      assert.strictEqual(markItems(lossSvg, "val_points").length, baseline.evals.length + extended.evals.length)
    }))

  it.effect("marks the resume on both charts with a rule and its label", () =>
    Effect.gen(function*() {
      const { lossSvg, lrSvg } = yield* renderCharts(twoRuns)
      const label = "extended: resume continue/rebuild"
      for (const svg of [lossSvg, lrSvg]) {
        assert.strictEqual(markItems(svg, "resume_rule").length, 1)
        assert.strictEqual(markItems(svg, "resume_label").length, 1)
        assert.include(svgTexts(svg), label)
      }
    }))

  it.effect("titles the axes, the charts and the legend", () =>
    Effect.gen(function*() {
      const { lossSvg, lrSvg } = yield* renderCharts(twoRuns, { title: "Moby <run>" })
      const lossTexts = svgTexts(lossSvg)
      const lrTexts = svgTexts(lrSvg)
      for (const t of ["step", "loss", "run", "baseline", "extended", "Moby <run>: loss"]) assert.include(lossTexts, t)
      for (const t of ["step", "learning rate", "run", "Moby <run>: learning rate"]) assert.include(lrTexts, t)
      assert.notInclude(lossSvg, "Moby <run>") // escaped in the markup
      for (const svg of [lossSvg, lrSvg]) {
        const width = Number(/^<svg[^>]* width="(\d+)"/.exec(svg)?.[1])
        assert.isTrue(width >= 850 && width <= 950, `width ${width}`)
      }
    }))

  it.effect("a single run is labelled without its name; a run without resumes has no rule", () =>
    Effect.gen(function*() {
      const single = yield* renderCharts([extended])
      assert.include(svgTexts(single.lossSvg), "resume continue/rebuild")
      const none = yield* renderCharts([baseline])
      assert.strictEqual(markItems(none.lossSvg, "resume_rule").length, 0)
      assert.strictEqual(markItems(none.lrSvg, "resume_label").length, 0)
      assert.strictEqual(markItems(none.lossSvg, "loss_smooth").length, 1)
    }))

  it.effect("a diverged run (non-finite losses) still renders", () =>
    Effect.gen(function*() {
      const diverged: RunSeries = {
        ...baseline,
        name: "diverged",
        steps: baseline.steps.map((p) => (p.step > 200 ? { ...p, loss: NaN } : p))
      }
      const { lossSvg } = yield* renderCharts([diverged])
      assert.strictEqual(markItems(lossSvg, "loss_raw").length, 1)
      assert.notInclude(lossSvg, "NaN")
    }))
})

describe("chart data", () => {
  it("thins long runs to a bounded number of points per line", () => {
    const n = 20_000
    const long: RunSeries = {
      name: "long",
      steps: Array.from({ length: n }, (_, i) => ({ step: i + 1, loss: 2 + Math.sin(i), lr: 1e-3 })),
      evals: [],
      resumes: []
    }
    const data = chartData([long])
    assert.isAtMost(data.train.length, MAX_POINTS_PER_LINE)
    assert.isAtMost(data.lr.length, MAX_POINTS_PER_LINE)
    assert.strictEqual(data.train[data.train.length - 1].step, n)
    assert.strictEqual(data.smoothingWindow, 100)
  })

  it("smoothing restarts at a resume: the smoothed loss jumps with the raw loss", () => {
    const jump: RunSeries = {
      name: "jump",
      steps: Array.from({ length: 1000 }, (_, i) => ({ step: i + 1, loss: i < 500 ? 1 : 3, lr: 1e-3 })),
      evals: [],
      resumes: [{ step: 500, policy: "continue", schedule: "rebuild" }]
    }
    const rows = chartData([jump]).train
    const after = rows.find((r) => r.step === 501)
    assert.strictEqual(after?.smooth, 3)
  })

  it("keeps runs that share a name apart", () => {
    assert.deepStrictEqual(
      distinctRunNames([{ ...baseline, name: "run" }, { ...baseline, name: "run" }, { ...baseline, name: "run (2)" }]),
      ["run", "run (3)", "run (2)"]
    )
    assert.strictEqual(resumeLabel("a", "exact", "keep", false), "resume exact/keep")
    assert.strictEqual(resumeLabel("a", "exact", "keep", true), "a: resume exact/keep")
  })
})

describe("the zoomed loss panel after the resume step", () => {
  type Layer = {
    name: string
    transform?: Array<{ filter: string }>
    encoding: { x: { field: string; scale: { domain: Array<number> } }; y?: { scale?: unknown } }
  }
  type Panel = { layer: Array<Layer>; height: number }

  it("is a second panel whose every layer spans the steps from k to the last step, on its own y scale", () => {
    const data = chartData(twoRuns)
    const last = data.stepDomain![1]
    const spec = lossSpec(data, undefined, 150) as unknown as { vconcat: Array<Panel>; layer?: unknown }
    assert.isUndefined(spec.layer)
    assert.strictEqual(spec.vconcat.length, 2)
    const [main, zoom] = spec.vconcat
    assert.deepStrictEqual(main!.layer.map((l) => l.name), [
      "loss_raw",
      "loss_smooth",
      "val_loss",
      "val_points",
      "resume_rule",
      "resume_label"
    ])
    assert.deepStrictEqual(main!.layer[0]!.encoding.x.scale.domain, [...data.stepDomain!])
    assert.deepStrictEqual(zoom!.layer.map((l) => l.name), [
      "zoom_loss_raw",
      "zoom_loss_smooth",
      "zoom_val_loss",
      "zoom_val_points",
      "zoom_resume_rule"
    ])
    for (const layer of zoom!.layer) {
      assert.strictEqual(layer.encoding.x.field, "step", layer.name)
      assert.deepStrictEqual(layer.encoding.x.scale.domain, [150, last], layer.name)
      // Only the zoomed rows reach the panel, so its y scale fits the steps after k alone.
      assert.deepStrictEqual(layer.transform, [{ filter: "datum.step >= 150" }], layer.name)
    }
    assert.deepStrictEqual(zoom!.layer[0]!.encoding.y!.scale, { zero: false })
  })

  it("has no zoom panel without a zoom step, or with one outside the charted steps", () => {
    const data = chartData(twoRuns)
    for (const from of [undefined, -1, data.stepDomain![1], 10_000]) {
      const spec = lossSpec(data, undefined, from) as unknown as { vconcat?: unknown; layer: Array<unknown> }
      assert.isUndefined(spec.vconcat, String(from))
      assert.strictEqual(spec.layer.length, 6)
    }
  })

  it.effect("draws each run again in the zoomed panel", () =>
    Effect.gen(function*() {
      const { lossSvg } = yield* renderCharts(twoRuns, { zoomFrom: 150 })
      assert.strictEqual(markItems(lossSvg, "zoom_loss_smooth").length, 2)
      assert.strictEqual(markItems(lossSvg, "loss_smooth").length, 2)
      assert.strictEqual(markItems(lossSvg, "zoom_resume_rule").length, 1)
      assert.include(svgTexts(lossSvg), `steps 150–${chartData(twoRuns).stepDomain![1]}, own loss scale`)
    }))
})
