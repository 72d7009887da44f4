/**
 * Headless Chromium for tests that check a written page the way a reader sees it. Needs Debian's
 * chromium (scripts/browser-deps.sh installs it; CHROMIUM_PATH overrides the location); without it
 * the tests are skipped, and say why.
 */
import { assert } from "@effect/vitest"
import * as NodeFs from "node:fs"
import { type BrowserContext, chromium, type Page } from "playwright-core"

export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

/**
 * Why the test named `test` cannot run here, printed once when a test file loads; undefined when
 * Chromium is there.
 */
export const chromiumSkipReason = (test: string): string | undefined => {
  if (NodeFs.existsSync(chromiumPath)) return undefined
  const reason = `${test} skipped: no Chromium at ${chromiumPath} (run scripts/browser-deps.sh, or set CHROMIUM_PATH)`
  console.warn(reason)
  return reason
}

/** A headless browser with its profile in `profileDir` and a 1000 × 1400 viewport; close it when done. */
export const launchChromium = (profileDir: string): Promise<BrowserContext> =>
  chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1000, height: 1400 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })

/** Opens a local file in the context's page; `requests` records every URL the page asks for. */
export const openFile = async (context: BrowserContext, file: string) => {
  const page = context.pages()[0] ?? await context.newPage()
  const requests: Array<string> = []
  page.on("request", (r) => requests.push(r.url()))
  await page.goto(`file://${file}`)
  return { page, requests }
}

/** An RGB colour, 0–255 per channel. */
export type Rgb = readonly [number, number, number]

/** Pixel statistics of a PNG, computed by the browser itself (it decodes PNGs; Node does not). */
export interface PixelStats {
  readonly width: number
  readonly height: number
  readonly nonWhite: number
  readonly distinctColours: number
}

/**
 * Page-side script (kept as text: the project compiles without DOM types) that decodes a base64 PNG
 * on a canvas and counts its pixels, and for each named colour the pixels close to it.
 */
const PIXEL_STATS = `async (base64, colours) => {
  const img = new Image()
  img.src = "data:image/png;base64," + base64
  await img.decode()
  const canvas = document.createElement("canvas")
  canvas.width = img.width
  canvas.height = img.height
  const g = canvas.getContext("2d")
  g.drawImage(img, 0, 0)
  const px = g.getImageData(0, 0, img.width, img.height).data
  const targets = Object.entries(colours)
  const near = targets.map(() => 0)
  let nonWhite = 0
  const distinct = new Set()
  for (let i = 0; i < px.length; i += 4) {
    if (px[i] < 250 || px[i + 1] < 250 || px[i + 2] < 250) nonWhite++
    distinct.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2])
    for (let c = 0; c < targets.length; c++) {
      const [r, gr, b] = targets[c][1]
      if (Math.abs(px[i] - r) < 24 && Math.abs(px[i + 1] - gr) < 24 && Math.abs(px[i + 2] - b) < 24) near[c]++
    }
  }
  const counts = Object.fromEntries(targets.map(([name], c) => [name, near[c]]))
  return { width: img.width, height: img.height, nonWhite, distinctColours: distinct.size, ...counts }
}`

/**
 * The pixel statistics of `png`, plus, for each entry of `colours`, how many pixels are within 24
 * of that colour on every channel (under the entry's name).
 */
export const pixelStats = async <K extends string = never>(
  page: Page,
  png: Buffer,
  colours: Readonly<Record<K, Rgb>> = {} as Record<K, Rgb>
): Promise<PixelStats & Readonly<Record<K, number>>> =>
  await page.evaluate(`(${PIXEL_STATS})(${JSON.stringify(png.toString("base64"))}, ${JSON.stringify(colours)})`) as
    & PixelStats
    & Readonly<Record<K, number>>

/**
 * Screenshots the chart `#id svg` and checks it is drawn: at least 800 pixels wide, more than 2 %
 * of it not white, more than 50 distinct colours. Returns its statistics (with `colours` counted as
 * in `pixelStats`) and the detail to put in further assertion messages.
 */
export const assertChartDrawn = async <K extends string = never>(
  page: Page,
  id: string,
  colours?: Readonly<Record<K, Rgb>>
) => {
  const stats = await pixelStats(page, await page.locator(`#${id} svg`).screenshot(), colours)
  const detail = `${id}: ${JSON.stringify(stats)}`
  assert.isAtLeast(stats.width, 800, detail)
  assert.isAbove(stats.nonWhite, stats.width * stats.height * 0.02, detail)
  assert.isAbove(stats.distinctColours, 50, detail)
  return { stats, detail }
}
