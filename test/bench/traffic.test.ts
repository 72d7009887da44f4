/**
 * The gpujs backend's traffic counters: bytes up, bytes down and launches, per kernel call and per
 * training step, counted only while asked, the same every step, and shown by `bench step`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { formatKernelBench, runKernelBench } from "../../src/bench/kernels.ts"
import { timeReferenceStep } from "../../src/bench/step.ts"
import { makeGpujsKernels } from "../../src/kernels/gpujs/index.ts"
import type { LlamaConfig } from "../../src/model/model.ts"
import { repoRoot } from "../support/processes.ts"

const tiny: LlamaConfig = {
  vocabSize: 32,
  dim: 16,
  layers: 1,
  heads: 2,
  ffnDim: 32,
  seqLen: 8,
  normEps: 1e-5,
  ropeTheta: 10000
}

/** Parameters of `tiny`: embedding and output head, per layer four attention and three ffn matrices and two norms, a final norm. */
const tinyParameterCount = 2 * 32 * 16 + (4 * 16 * 16 + 3 * 16 * 32 + 2 * 16) + 16

describe("gpujs traffic counters", () => {
  it.effect("a matmul call counts its operands up, its result down, and one launch (gpu.js cpu mode)", () =>
    Effect.gen(function*() {
      const g = yield* makeGpujsKernels("cpu")
      const [m, n, k] = [3, 5, 7]
      const a = new Float32Array(m * k).fill(1)
      const b = new Float32Array(k * n).fill(2)
      const c = new Float32Array(m * n)
      g.kernels.matmul(a, b, c, m, n, k, false, false, false)
      const unasked = g.device.stopCounting()
      assert.deepStrictEqual(unasked, { bytesUp: 0, bytesDown: 0, launches: 0 }, "nothing is counted unless asked")

      g.device.startCounting()
      g.kernels.matmul(a, b, c, m, n, k, false, false, false)
      assert.deepStrictEqual(g.device.stopCounting(), {
        bytesUp: (m * k + k * n) * 4,
        bytesDown: m * n * 4,
        launches: 1
      })
      g.device.startCounting()
      g.kernels.matmul(a, b, c, m, n, k, false, false, true)
      assert.deepStrictEqual(
        g.device.stopCounting(),
        { bytesUp: (m * k + k * n + m * n) * 4, bytesDown: m * n * 4, launches: 1 },
        "accumulating uploads C too"
      )
    }))

  it.effect("in headlessgl every upload is a launch of its own (skipped where headless GL does not run)", () =>
    Effect.gen(function*() {
      const g = yield* makeGpujsKernels("headlessgl")
      if (g.mode !== "headlessgl") return
      const a = new Float32Array(12).fill(1)
      const out = new Float32Array(12)
      g.device.startCounting()
      g.kernels.add(a, a, out)
      assert.deepStrictEqual(g.device.stopCounting(), { bytesUp: 96, bytesDown: 48, launches: 3 })
    }))

  it.effect("a training step moves at least the parameters each way, and the same amount every time", () =>
    Effect.gen(function*() {
      const g = yield* makeGpujsKernels("cpu")
      const first = timeReferenceStep(g.kernels, "gpujs:cpu", 2, 1, tiny, g.device)
      const again = timeReferenceStep(g.kernels, "gpujs:cpu", 3, 0, tiny, g.device)
      const traffic = first.trafficPerStep!
      assert.isDefined(traffic)
      const parameterBytes = tinyParameterCount * 4
      // AdamW uploads every parameter with its gradient and moments, and reads parameter and moments back.
      assert.isAtLeast(traffic.bytesUp, 4 * parameterBytes)
      assert.isAtLeast(traffic.bytesDown, 3 * parameterBytes)
      assert.isAbove(traffic.launches, 0)
      assert.deepStrictEqual(again.trafficPerStep, traffic, "every step issues the same calls")

      const cpuOnly = timeReferenceStep(g.kernels, "gpujs:cpu", 1, 0, tiny)
      assert.isUndefined(cpuOnly.trafficPerStep, "no device, no counting")
    }))

  it.effect("the kernel table gives each gpujs row its traffic per call; cpu rows have none", () =>
    Effect.gen(function*() {
      const result = yield* runKernelBench({
        modes: ["cpu"],
        families: ["add"],
        scale: "quick",
        reps: 1,
        warmup: 0,
        peers: false
      })
      const gpujs = result.rows.filter((r) => r.backend === "gpujs:cpu")
      assert.deepStrictEqual(gpujs.map((r) => r.traffic), [
        { bytesUp: 8e3, bytesDown: 4e3, launches: 1 },
        { bytesUp: 8e4, bytesDown: 4e4, launches: 1 },
        { bytesUp: 8e5, bytesDown: 4e5, launches: 1 }
      ])
      for (const r of result.rows.filter((r) => r.backend === "cpu")) assert.isUndefined(r.traffic)
      const table = formatKernelBench(result)
      assert.match(table, /KB up\s+KB down\s+launches/)
      assert.match(table, /add\s+1000\s+gpujs:cpu .*\s8\.0\s+4\.0\s+1\s/)
    }))

  it("bench step prints bytes up, bytes down and launches per step, cpu none; --backend gpujs times gpu.js alone", () => {
    const run = spawnSync(
      process.execPath,
      [
        path.join(repoRoot, "bin", "continuum"),
        "bench",
        "step",
        "--modes",
        "cpu",
        "--steps",
        "1",
        "--warmup",
        "0"
      ],
      { encoding: "utf8", cwd: repoRoot }
    )
    assert.strictEqual(run.status, 0, run.stderr)
    for (const column of ["KB up", "KB down", "launches"]) assert.include(run.stdout, column)
    const gpujs = run.stdout.split("\n").find((l) => l.includes("gpujs:cpu"))
    const cpu = run.stdout.split("\n").find((l) => /│ cpu\s/.test(l))
    assert.isDefined(gpujs, run.stdout)
    assert.isDefined(cpu, run.stdout)
    assert.match(gpujs!, /│\s*\d+\.\d+\s*│\s*\d+\.\d+\s*│\s*\d+\s*│$/)
    assert.match(cpu!, /│\s+│\s+│\s+│$/, "the cpu row leaves the traffic cells blank")

    const onlyGpujs = spawnSync(
      process.execPath,
      [
        path.join(repoRoot, "bin", "continuum"),
        "bench",
        "step",
        "--backend",
        "gpujs",
        "--modes",
        "cpu",
        "--steps",
        "3",
        "--warmup",
        "0"
      ],
      { encoding: "utf8", cwd: repoRoot }
    )
    assert.strictEqual(onlyGpujs.status, 0, onlyGpujs.stderr)
    assert.notMatch(onlyGpujs.stdout, /│ cpu\s/)
    const row = onlyGpujs.stdout.split("\n").find((l) => l.includes("gpujs:cpu"))
    assert.isDefined(row, onlyGpujs.stdout)
    // Alone, gpu.js runs the steps asked for (beside cpu it runs a fifth of them, at least 2).
    assert.strictEqual(row!.split("│")[6].trim(), "3", row)
  })
})
