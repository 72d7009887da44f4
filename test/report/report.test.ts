import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as os from "node:os"
import * as NodePath from "node:path"
import { renderCharts } from "../../src/report/charts.ts"
import { formatCell, renderReportHtml } from "../../src/report/html.ts"
import { ReportError } from "../../src/report/ReportError.ts"
import { defaultSummary } from "../../src/report/summary.ts"
import { writeReport } from "../../src/report/writeReport.ts"
import { baseline, extended, twoRuns } from "./fixtures.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-report-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length

describe("renderReportHtml", () => {
  it.effect("is one self-contained page: both charts inline, a summary table, notes, no external resources", () =>
    Effect.gen(function*() {
      const charts = yield* renderCharts(twoRuns)
      const html = renderReportHtml(twoRuns, charts, {
        title: "Resume <study> & co",
        summary: [{ run: "baseline", "final loss": 1.234567, steps: 240 }, { run: "extended", note: "rebuilt" }],
        notes: ["LR jumps at step 150 <by design>"]
      })
      assert.isTrue(html.startsWith("<!DOCTYPE html>"))
      assert.strictEqual(count(html, /<svg[\s>]/g), 2)
      assert.include(html, charts.lossSvg)
      assert.include(html, charts.lrSvg)
      assert.include(html, "<title>Resume &lt;study&gt; &amp; co</title>")
      assert.include(html, "<li>LR jumps at step 150 &lt;by design&gt;</li>")
      // columns are the union of the rows' keys, in order of first appearance
      assert.include(
        html,
        "<tr><th scope=\"col\">run</th><th scope=\"col\">final loss</th><th scope=\"col\">steps</th><th scope=\"col\">note</th></tr>"
      )
      assert.include(html, "<td class=\"num\">1.235</td>")
      // the resume table lists the marker
      assert.match(html, /<td>extended<\/td><td class="num">150<\/td><td>continue<\/td><td>rebuild<\/td>/)
      // nothing is fetched: no scripts, stylesheets, images or remote URLs
      assert.notMatch(html, /<script|<link|<img|<iframe|@import|url\(/i)
      assert.notMatch(html, /(?:src|href)=/i)
      assert.notMatch(html.replace(/xmlns(?::xlink)?="[^"]*"/g, ""), /https?:\/\//)
    }))

  it.effect("without a summary it tabulates each run", () =>
    Effect.gen(function*() {
      const html = renderReportHtml([extended], yield* renderCharts([extended]), { title: "one" })
      assert.include(html, "<th scope=\"col\">best val loss</th>")
      assert.include(html, "<td>extended</td><td class=\"num\">300</td>")
      assert.notInclude(html, "id=\"notes\"")
    }))
})

describe("defaultSummary and formatCell", () => {
  it("reports last step, final loss, best evaluation, resumes and non-finite losses", () => {
    const diverged = { ...baseline, steps: baseline.steps.map((p) => (p.step > 238 ? { ...p, loss: NaN } : p)) }
    const [row] = defaultSummary([diverged])
    assert.strictEqual(row["last step"], 240)
    assert.strictEqual(row["final loss"], baseline.steps[237].loss)
    assert.strictEqual(row["best val step"], 240)
    assert.strictEqual(row["resumes"], 0)
    assert.strictEqual(row["non-finite losses"], 2)
    const [empty] = defaultSummary([{ name: "empty", steps: [], evals: [], resumes: [] }])
    assert.strictEqual(empty["last step"], "—")
    assert.strictEqual(empty["best val loss"], "—")
  })

  it("formats numbers for reading", () => {
    assert.strictEqual(formatCell(240), "240")
    assert.strictEqual(formatCell(1.234567), "1.235")
    assert.strictEqual(formatCell(0.0003), "3.000e-4")
    assert.strictEqual(formatCell(NaN), "NaN")
    assert.strictEqual(formatCell("x"), "x")
  })
})

layer(NodeFileSystem.layer)("writeReport", (it) => {
  it.effect("writes report.html, loss.svg and lr.svg, creating the directory", () =>
    Effect.gen(function*() {
      const out = NodePath.join(yield* tempDir, "nested", "report")
      const written = yield* writeReport(out, twoRuns, { title: "two runs", notes: ["n"] })
      assert.strictEqual(written.html, NodePath.join(out, "report.html"))
      assert.deepStrictEqual(written.svg, [NodePath.join(out, "loss.svg"), NodePath.join(out, "lr.svg")])
      const html = NodeFs.readFileSync(written.html, "utf8")
      const loss = NodeFs.readFileSync(written.svg[0], "utf8")
      const lr = NodeFs.readFileSync(written.svg[1], "utf8")
      assert.match(loss, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
      assert.include(loss, "two runs: loss")
      assert.include(lr, "two runs: learning rate")
      assert.include(html, loss)
      assert.include(html, lr)
    }))

  it.effect("an output path that cannot be created is a ReportError naming it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const blocker = NodePath.join(dir, "file")
      NodeFs.writeFileSync(blocker, "not a directory")
      const error = yield* Effect.flip(writeReport(NodePath.join(blocker, "out"), twoRuns, { title: "t" }))
      assert.instanceOf(error, ReportError)
      assert.strictEqual(error.operation, "write")
      assert.strictEqual(error.path, NodePath.join(blocker, "out"))
    }))
})
