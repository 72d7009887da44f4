/**
 * The demo's report.html in headless Chromium: both charts are laid out with a real size, show all
 * four variants, and are drawn (a screenshot of each is not blank). Needs Debian's chromium
 * (CHROMIUM_PATH overrides the location); without it the test is skipped, and says why.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { runDemo } from "../../src/demo/demo.ts"
import { assertChartDrawn, chromiumSkipReason, launchChromium, openFile } from "../support/chromium.ts"
import { tempDir } from "../support/tinyRun.ts"

const skipReason = chromiumSkipReason("demo browser test")

describe("demo report in a browser", () => {
  it("shows the loss and LR charts of all four variants", async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason)
    const dir = tempDir("continuum-demo-browser-")
    const demo = await Effect.runPromise(
      runDemo({ outDir: NodePath.join(dir, "out"), quick: true }).pipe(Effect.provide(NodeFileSystem.layer))
    )
    const context = await launchChromium(NodePath.join(dir, "profile"))
    try {
      const { page, requests } = await openFile(context, demo.report.html)

      const charts = await page.$$eval("section.chart", (sections) =>
        sections.map((section) => {
          const svg = section.querySelector("svg")
          const r = svg?.getBoundingClientRect()
          return { id: section.id, width: r?.width ?? 0, height: r?.height ?? 0, text: svg?.textContent ?? "" }
        }))
      assert.deepStrictEqual(charts.map((c) => c.id), ["loss-chart", "lr-chart"])
      for (const chart of charts) {
        assert.isTrue(chart.width > 800 && chart.height > 300, JSON.stringify({ ...chart, text: undefined }))
        for (const name of ["baseline", "exact", "rebuild", "extend"]) assert.include(chart.text, name, chart.id)
      }
      assert.deepStrictEqual(requests.filter((u) => !u.startsWith("file://")), [], "the page fetched nothing")

      for (const id of ["loss-chart", "lr-chart"]) await assertChartDrawn(page, id)
      const summary = await page.locator("#summary").textContent()
      for (const label of ["(a) baseline", "(b) exact", "(c) rebuild", "(d) extend"]) assert.include(summary, label)
    } finally {
      await context.close()
      NodeFs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
