/** Synthetic runs for the report tests: two runs, the second resumed with a rebuilt schedule. */
import type { RunSeries, StepPoint } from "../../src/report/series.ts"

const lrAt = (s: number, total: number, peak: number): number =>
  s <= 20 ? (peak * s) / 20 : peak * Math.max(0, 1 - (s - 20) / (total - 20))

const curve = (
  n: number,
  floor: number,
  bumpAfter: number,
  bump: number,
  total: number,
  peak: number
): Array<StepPoint> =>
  Array.from({ length: n }, (_, i) => {
    const s = i + 1
    return {
      step: s,
      loss: 3.5 * Math.exp(-s / 60) + floor + 0.12 * Math.sin(s * 1.3) + (s > bumpAfter ? bump : 0),
      lr: lrAt(s, s > bumpAfter ? total + 100 : total, peak)
    }
  })

/** "baseline": 240 steps, never resumed. */
export const baseline: RunSeries = {
  name: "baseline",
  steps: curve(240, 1.1, Infinity, 0, 240, 3e-3),
  evals: [0, 60, 120, 180, 240].map((s) => ({ step: s, valLoss: 3.5 * Math.exp(-s / 60) + 1.25 })),
  resumes: []
}

/** "extended": resumed at step 150 with the `continue` policy and a rebuilt schedule (LR jumps). */
export const extended: RunSeries = {
  name: "extended",
  steps: curve(300, 1.0, 150, 0.25, 240, 3e-3),
  evals: [0, 75, 150, 225, 300].map((s) => ({ step: s, valLoss: 3.5 * Math.exp(-s / 60) + 1.2 })),
  resumes: [{ step: 150, policy: "continue", schedule: "rebuild" }]
}

export const twoRuns: ReadonlyArray<RunSeries> = [baseline, extended]

/** The metrics.jsonl text a trainer would write for `run`, resume markers in place. */
export const metricsText = (run: RunSeries): string => {
  const lines: Array<string> = []
  for (const e of run.evals.filter((e) => e.step === 0)) lines.push(JSON.stringify({ step: 0, valLoss: e.valLoss }))
  for (const p of run.steps) {
    for (const m of run.resumes.filter((m) => m.step === p.step - 1)) {
      lines.push(JSON.stringify({ step: m.step, resume: m.policy, schedule: m.schedule }))
    }
    lines.push(
      JSON.stringify({ step: p.step, loss: p.loss, lr: p.lr, gradNorm: 1, tokens: p.step * 64, tokensPerSec: 1000 })
    )
    for (const e of run.evals.filter((e) => e.step === p.step)) {
      lines.push(JSON.stringify({ step: e.step, valLoss: e.valLoss }))
    }
  }
  return lines.map((l) => l + "\n").join("")
}

/**
 * The inner markup of every `<g>` mark group of the named chart layer (a line layer has one group
 * per series; an empty layer is a self-closing group). Mark groups hold no nested groups.
 */
export const markGroups = (svg: string, layer: string): Array<string> =>
  [...svg.matchAll(new RegExp(`<g class="mark-[a-z]+ role-mark ${layer}_marks"[^>]*?(?:/>|>(.*?)</g>)`, "g"))]
    .map((m) => m[1] ?? "")

/** The drawn items (`<path>`, `<line>`, `<text>`) of the named chart layer. */
export const markItems = (svg: string, layer: string): Array<string> =>
  markGroups(svg, layer).flatMap((g) => g.match(/<(?:path|line|text) [^>]*>/g) ?? [])

/** `<text>` contents of the SVG, entities decoded for the few Vega writes. */
export const svgTexts = (svg: string): Array<string> =>
  [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1].replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&#39;/g, "'").replace(
      /&amp;/g,
      "&"
    )
  )
