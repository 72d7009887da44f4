/**
 * Opens a written report in headless Chromium, checks both charts are laid out with a real size,
 * and checks a screenshot of the page actually shows them (coloured lines on white, not blank).
 *
 * Needs Debian's chromium (scripts/browser-deps.sh installs it; CHROMIUM_PATH overrides the
 * location). Without it the test is skipped, and says why.
 */
import * as NodeFs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { chromium, type Page } from "playwright-core"
import { writeReport } from "../../src/report/writeReport.ts"
import { twoRuns } from "./fixtures.ts"

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const skipReason = NodeFs.existsSync(chromiumPath)
  ? undefined
  : `browser test skipped: no Chromium at ${chromiumPath} (run scripts/browser-deps.sh, or set CHROMIUM_PATH)`
if (skipReason !== undefined) console.warn(skipReason)

/** Pixel statistics of a PNG, computed by the browser itself (it decodes PNGs; Node does not). */
interface PixelStats {
  readonly width: number
  readonly height: number
  readonly nonWhite: number
  readonly distinctColours: number
  /** Pixels close to each run's line colour (Tableau blue, orange). */
  readonly blue: number
  readonly orange: number
}

/**
 * Page-side script (kept as text: the project compiles without DOM types) that decodes a base64 PNG
 * on a canvas and counts its pixels.
 */
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
  const near = (i, r, gr, b) => Math.abs(px[i] - r) < 24 && Math.abs(px[i + 1] - gr) < 24 && Math.abs(px[i + 2] - b) < 24
  let nonWhite = 0, blue = 0, orange = 0
  const colours = new Set()
  for (let i = 0; i < px.length; i += 4) {
    if (px[i] < 250 || px[i + 1] < 250 || px[i + 2] < 250) nonWhite++
    colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2])
    if (near(i, 0x4e, 0x79, 0xa7)) blue++
    if (near(i, 0xf2, 0x8e, 0x2b)) orange++
  }
  return { width: img.width, height: img.height, nonWhite, distinctColours: colours.size, blue, orange }
}`

const pixelStats = async (page: Page, png: Buffer): Promise<PixelStats> =>
  await page.evaluate(`(${PIXEL_STATS})(${JSON.stringify(png.toString("base64"))})`) as PixelStats

describe("report in a browser", () => {
  it("renders both charts in headless Chromium; the screenshot shows them", async (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason)
    const dir = NodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-report-browser-"))
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
      const written = await Effect.runPromise(
        writeReport(NodePath.join(dir, "out"), twoRuns, { title: "Browser check" }).pipe(Effect.provide(NodeFileSystem.layer))
      )
      const page = context.pages()[0] ?? await context.newPage()
      const requests: Array<string> = []
      page.on("request", (r) => requests.push(r.url()))
      await page.goto(`file://${written.html}`)

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
      const whole = await pixelStats(page, png)
      console.log(`report screenshot: ${shot} (${png.length} bytes) ${JSON.stringify(whole)}`)
      assert.isAtLeast(whole.width, 900)

      // Each chart, on its own: mostly white with drawn content, and both runs' colours visible.
      for (const id of ["loss-chart", "lr-chart"]) {
        const stats = await pixelStats(page, await page.locator(`#${id} svg`).screenshot())
        const detail = `${id}: ${JSON.stringify(stats)}`
        assert.isAtLeast(stats.width, 800, detail)
        assert.isAbove(stats.nonWhite, stats.width * stats.height * 0.02, detail)
        assert.isAbove(stats.distinctColours, 50, detail)
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
