/**
 * One trainer per run directory, with real `bin/continuum` processes: of two started together
 * exactly one trains and the other exits 2 naming it; a lock left by a SIGKILLed trainer, or one
 * whose pid now belongs to another process, is taken over; a live holder is respected.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { checkpointsDir } from "../../src/checkpoint/layout.ts"
import { metricsFile, readMetrics } from "../../src/train/metricsLine.ts"
import { LOCK_FILE } from "../../src/train/RunLock.ts"
import { checkpointDirs } from "../support/checkpoints.ts"
import { stepLines } from "../support/metrics.ts"
import { finished, runCli, spawnCli } from "../support/processes.ts"
import { tempDir, writeTinyConfig } from "../support/tinyRun.ts"

/** Longer than any test waits: runs end by a signal once the test has seen what it needs. */
const long = { steps: 2000, eval: { every: 1000 }, checkpoint: { every: 5 } }

const lockFile = (runDir: string) => path.join(runDir, LOCK_FILE)

/** Polls until `ready` holds; the test's own timeout bounds the wait. */
const waitUntil = async (ready: () => boolean) => {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 20))
}

const stepsLogged = (runDir: string) =>
  fs.existsSync(metricsFile(runDir)) ? readMetrics(metricsFile(runDir)).filter((r) => "loss" in r).length : 0

/** Field 22 of /proc/<pid>/stat, as the lock records it. */
const processStart = (pid: number) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!
}

/** Steps 1..n exactly once each, in order. */
const assertWholeHistory = (runDir: string) => {
  const steps = stepLines(runDir).map((l) => l.step)
  assert.deepStrictEqual(steps, Array.from({ length: steps.length }, (_, i) => i + 1))
}

describe("the run directory lock", () => {
  it("of two trainers started together on one runDir, one trains and the other exits 2 naming it", async () => {
    const dir = tempDir("continuum-lock-")
    const runDir = path.join(dir, "run")
    const config = writeTinyConfig(path.join(dir, "config.json"), runDir, long)
    const children = [spawnCli(["train", "--config", config]), spawnCli(["train", "--config", config])]
    const runs = children.map(finished)
    // The loser exits as soon as it meets the lock; the winner trains on until it is stopped.
    const first = await Promise.race(runs.map((run, i) => run.then((r) => ({ ...r, i }))))
    const winner = children[1 - first.i]!
    assert.strictEqual(first.code, 2, `${first.stdout}${first.stderr}`)
    const lines = first.stderr.split("\n").filter((l) => l !== "")
    assert.strictEqual(lines.length, 1, first.stderr)
    assert.include(lines[0], `RunDirLocked`)
    assert.include(lines[0], `process ${winner.pid}`)

    await waitUntil(() => stepsLogged(runDir) >= 3)
    winner.kill("SIGTERM")
    const won = await runs[1 - first.i]!
    assert.strictEqual(won.code, 0, `${won.stdout}${won.stderr}`)
    assertWholeHistory(runDir)
    assert.isFalse(fs.existsSync(lockFile(runDir)), "the lock is released on exit")
  }, 120_000)

  it("a lock left by a SIGKILLed trainer is taken over by the next run", async () => {
    const dir = tempDir("continuum-lock-")
    const runDir = path.join(dir, "run")
    const config = writeTinyConfig(path.join(dir, "config.json"), runDir, long)
    const killed = spawnCli(["train", "--config", config])
    const gone = finished(killed)
    await waitUntil(() => checkpointDirs(checkpointsDir(runDir)).complete.length >= 2)
    killed.kill("SIGKILL")
    assert.strictEqual((await gone).signal, "SIGKILL")
    const left = JSON.parse(fs.readFileSync(lockFile(runDir), "utf8")) as { pid: number }
    assert.strictEqual(left.pid, killed.pid)

    const latest = checkpointDirs(checkpointsDir(runDir)).complete.at(-1)!
    const next = await runCli(["train", "--config", config, "--resume", "auto", "--until", String(latest + 3)])
    assert.strictEqual(next.code, 0, `${next.stdout}${next.stderr}`)
    assert.include(next.stdout, `trained to step ${latest + 3}`)
    assert.isFalse(fs.existsSync(lockFile(runDir)))
    assert.deepStrictEqual(stepLines(runDir).map((l) => l.step).slice(-3), [latest + 1, latest + 2, latest + 3])
  }, 120_000)

  it("a lock whose pid now belongs to a process started at another time is stale", async () => {
    const dir = tempDir("continuum-lock-")
    const runDir = path.join(dir, "run")
    fs.mkdirSync(runDir)
    // This test's own process is alive, but it is not the process that wrote this lock.
    const reused = { pid: process.pid, processStart: "1", host: os.hostname(), since: "2020-01-01T00:00:00.000Z" }
    fs.writeFileSync(lockFile(runDir), JSON.stringify(reused))
    const run = await runCli(["train", "--config", writeTinyConfig(path.join(dir, "c.json"), runDir, { steps: 4 })])
    assert.strictEqual(run.code, 0, `${run.stdout}${run.stderr}`)
    assertWholeHistory(runDir)
    assert.isFalse(fs.existsSync(lockFile(runDir)))
  }, 60_000)

  it("a lock held by a live process is respected, and nothing is touched", async () => {
    const dir = tempDir("continuum-lock-")
    const runDir = path.join(dir, "run")
    fs.mkdirSync(runDir)
    const holder = {
      pid: process.pid,
      processStart: processStart(process.pid),
      host: os.hostname(),
      since: new Date().toISOString()
    }
    fs.writeFileSync(lockFile(runDir), JSON.stringify(holder))
    const child = spawnCli(["train", "--config", writeTinyConfig(path.join(dir, "c.json"), runDir, { steps: 4 })])
    const run = await finished(child)
    assert.strictEqual(run.code, 2, `${run.stdout}${run.stderr}`)
    assert.include(run.stderr, `process ${process.pid}`)
    assert.deepStrictEqual(fs.readdirSync(runDir), [LOCK_FILE])
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(lockFile(runDir), "utf8")), holder)
  }, 60_000)
})
