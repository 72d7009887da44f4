/**
 * The demo's report.html in headless Chromium: both charts are laid out with a real size, show all
 * four variants, and are drawn (a screenshot of each is not blank). Same approach as
 * test/report/browser.test.ts: needs Debian's chromium (CHROMIUM_PATH overrides the location);
 * without it the test is skipped, and says why.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { chromium, type Page } from "playwright-core"
import { runDemo } from "../../src/demo/demo.ts"
import { tempDir } from "../support/tinyRun.ts"

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const skipReason = NodeFs.existsSync(chromiumPath)
  ? undefined
  : `demo browser test skipped: no Chromium at ${chromiumPath} (run scripts/browser-deps.sh, or set CHROMIUM_PATH)`
if (skipReason !== undefined) console.warn(skipReason)

/** Page-side script (text: the project compiles without DOM types): non-white and distinct colours of a PNG. */
const PIXEL_STATS = `async (base64) => {
  const img = new Image()
  img.src = "data:image/png;base64," + base64
  await img.decode()
  const canvas = document.createElement("canvas")
  canvas.width = img.width
  canvas.height = img.height
  const g = canvas.getContext("2d")
  g.drawImage(img, 0, 0)
  const px = g.getImageData(0, 0, img.width, img.height).data
  let nonWhite = 0
  const colours = new Set()
  for (let i = 0; i < px.length; i += 4) {
    if (px[i] < 250 || px[i + 1] < 250 || px[i + 2] < 250) nonWhite++
    colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2])
  }
  return { width: img.width, height: img.height, nonWhite, distinctColours: colours.size }
}`

interface PixelStats {
  readonly width: number
  readonly height: number
  readonly nonWhite: number
  readonly distinctColours: number
}

const pixelStats = async (page: Page, png: Buffer): Promise<PixelStats> =>
  await page.evaluate(`(${PIXEL_STATS})(${JSON.stringify(png.toString("base64"))})`) as PixelStats

describe("demo report in a browser", () => {
  it("shows the loss and LR charts of all four variants", async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason)
    const dir = tempDir("continuum-demo-browser-")
    const demo = await Effect.runPromise(
      runDemo({ outDir: NodePath.join(dir, "out"), quick: true }).pipe(Effect.provide(NodeFileSystem.layer))
    )
    const context = await chromium.launchPersistentContext(NodePath.join(dir, "profile"), {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1000, height: 1400 },
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"
      ]
    })
    try {
      const page = context.pages()[0] ?? await context.newPage()
      const requests: Array<string> = []
      page.on("request", (r) => requests.push(r.url()))
      await page.goto(`file://${demo.report.html}`)

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

      for (const id of ["loss-chart", "lr-chart"]) {
        const stats = await pixelStats(page, await page.locator(`#${id} svg`).screenshot())
        const detail = `${id}: ${JSON.stringify(stats)}`
        assert.isAtLeast(stats.width, 800, detail)
        assert.isAbove(stats.nonWhite, stats.width * stats.height * 0.02, detail)
        assert.isAbove(stats.distinctColours, 50, detail)
      }
      const summary = await page.locator("#summary").textContent()
      for (const label of ["(a) baseline", "(b) exact", "(c) rebuild", "(d) extend"]) assert.include(summary, label)
    } finally {
      await context.close()
      NodeFs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
