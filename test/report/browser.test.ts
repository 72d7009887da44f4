/**
 * Opens a written report in headless Chromium, checks both charts are laid out with a real size,
 * and checks a screenshot of the page actually shows them (coloured lines on white, not blank).
 *
 * Needs Debian's chromium (scripts/browser-deps.sh installs it; CHROMIUM_PATH overrides the
 * location). Without it the test is skipped, and says why.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import { writeReport } from "../../src/report/writeReport.ts"
import { assertChartDrawn, chromiumSkipReason, launchChromium, openFile, pixelStats } from "../support/chromium.ts"
import { twoRuns } from "./fixtures.ts"

const skipReason = chromiumSkipReason("browser test")

/** Each run's line colour (Tableau blue, orange). */
const lineColours = { blue: [0x4e, 0x79, 0xa7], orange: [0xf2, 0x8e, 0x2b] } as const

describe("report in a browser", () => {
  it("renders both charts in headless Chromium; the screenshot shows them", async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason)
    const dir = NodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-report-browser-"))
    const context = await launchChromium(NodePath.join(dir, "profile"))
    try {
      const written = await Effect.runPromise(
        writeReport(NodePath.join(dir, "out"), twoRuns, { title: "Browser check" }).pipe(
          Effect.provide(NodeFileSystem.layer)
        )
      )
      const { page, requests } = await openFile(context, written.html)

      const boxes = await page.$$eval("section.chart svg", (svgs) =>
        svgs.map((svg) => {
          const r = svg.getBoundingClientRect()
          return { width: r.width, height: r.height }
        }))
      assert.strictEqual(boxes.length, 2)
      for (const box of boxes) assert.isTrue(box.width > 800 && box.height > 300, JSON.stringify(box))
      assert.deepStrictEqual(requests.filter((u) => !u.startsWith("file://")), [], "the page fetched nothing")

      const shot = NodePath.join(dir, "report.png")
      await page.screenshot({ path: shot, fullPage: true })
      const png = NodeFs.readFileSync(shot)
      assert.isAbove(png.length, 20_000)
      const whole = await pixelStats(page, png, lineColours)
      console.log(`report screenshot: ${shot} (${png.length} bytes) ${JSON.stringify(whole)}`)
      assert.isAtLeast(whole.width, 900)

      // Each chart, on its own: mostly white with drawn content, and both runs' colours visible.
      for (const id of ["loss-chart", "lr-chart"]) {
        const { stats, detail } = await assertChartDrawn(page, id, lineColours)
        assert.isAbove(stats.blue, 300, detail)
        assert.isAbove(stats.orange, 300, detail)
      }
    } finally {
      await context.close()
      // the screenshot is kept for inspection when REPORT_KEEP_SCREENSHOT is set
      if (process.env.REPORT_KEEP_SCREENSHOT === undefined) NodeFs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
