/**
 * Crash safety with real processes: a training process that saves a checkpoint every two steps
 * (in the background) is killed with SIGKILL again and again — mid-step, while a save is being
 * written, right after one was published, during start-up — and restarted each time with
 * `--resume auto`. The run that finally completes must end bit for bit where an uninterrupted run
 * ends, its metrics must describe the same trajectory, and no checkpoint that was complete when a
 * kill landed may ever disappear or stop verifying.
 *
 * The kill plan comes from a fixed seed (override with CONTINUUM_CRASH_SEED) and is logged with
 * what each kill hit, so a failure can be replayed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as readline from "node:readline"
import { checkpointsDir, parseStepDirName, TEMP_PREFIX } from "../../src/checkpoint/layout.ts"
import { uniform } from "../../src/tensor/rng.ts"
import { checkpointDirs, withStore } from "../support/checkpoints.ts"
import { assertSameTensors } from "../support/compare.ts"
import { trajectory } from "../support/metrics.ts"
import { type Exit, exited, spawnNode, trainingChildArgs } from "../support/processes.ts"
import { tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

const STEPS = 40
const KILLS = 10
/** A process that lives this many steps is killed whatever its trigger was. */
const MAX_STEPS_PER_LIFE = 8
const SEED = Number(process.env.CONTINUUM_CRASH_SEED ?? 20240611)
/** The run with P ranks (worker threads); its trajectory is the same for every P. */
const overridesWith = (dp: number) => ({
  steps: STEPS,
  eval: { every: 8, batches: 1 },
  batch: { dp },
  // Retention must delete nothing here, so that any checkpoint that vanishes is a bug.
  checkpoint: { every: 2, async: true, keepLatest: 1000 }
})

// ---- the kill plan -----------------------------------------------------------------------

type Trigger =
  /** After the child reports step ≥ start + `after`, wait `delayMs`. */
  | { readonly kind: "step"; readonly after: number; readonly delayMs: number }
  /** When the `nth` new `.tmp-step-…` directory appears (a save has started), wait `delayMs`. */
  | { readonly kind: "saving"; readonly nth: number; readonly delayMs: number }
  /** When the `nth` new `step-…` directory appears (a save was just published), wait `delayMs`. */
  | { readonly kind: "saved"; readonly nth: number; readonly delayMs: number }
  /** `delayMs` after the process was spawned: often during start-up, planning or loading. */
  | { readonly kind: "timer"; readonly delayMs: number }

/** Kill `i` of the plan, a pure function of the seed. The first two kinds are certain to repeat. */
const planKill = (i: number): Trigger => {
  const u = (k: number) => uniform(SEED, i, k)
  const kind = i < 4
    ? (["saving", "step", "saved", "saving"] as const)[i]!
    : (["step", "saving", "saved", "timer"] as const)[Math.floor(u(0) * 4)]!
  switch (kind) {
    case "step":
      return { kind, after: 1 + Math.floor(u(1) * 6), delayMs: Math.floor(u(2) * 15) }
    case "saving":
      return { kind, nth: 1 + Math.floor(u(1) * 3), delayMs: u(2) < 0.5 ? 0 : Math.floor(u(3) * 4) }
    case "saved":
      return { kind, nth: 1 + Math.floor(u(1) * 3), delayMs: Math.floor(u(2) * 3) }
    case "timer":
      return { kind, delayMs: 1500 + Math.floor(u(1) * 2500) }
  }
}

// ---- child processes ---------------------------------------------------------------------

interface Child {
  readonly process: ChildProcess
  /** Step the child started from (once it said so). */
  startStep: number | undefined
  lastStep: number
  finished: boolean
  stderr: string
  readonly exited: Promise<Exit>
  onStep?: (step: number) => void
}

const spawnChild = (runDir: string, overrides: Record<string, unknown>): Child => {
  const proc = spawnNode(trainingChildArgs(runDir, overrides, "auto"))
  const child: Child = {
    process: proc,
    startStep: undefined,
    lastStep: -1,
    finished: false,
    stderr: "",
    exited: exited(proc)
  }
  proc.stderr!.on("data", (chunk: Buffer) => (child.stderr += chunk.toString()))
  // A signal sent just as the process exits by itself cannot be delivered; the exit tells the rest.
  proc.on("error", () => {})
  readline.createInterface({ input: proc.stdout! }).on("line", (line) => {
    const event = JSON.parse(line) as { _tag: string; step?: number }
    if (event._tag === "Started") child.startStep = event.step
    if (event._tag === "Finished") child.finished = true
    if (event._tag === "Step") {
      child.lastStep = event.step!
      child.onStep?.(event.step!)
    }
  })
  return child
}

/** Blocks until the kernel reports the process stopped (Linux); elsewhere returns at once. */
const waitStopped = (pid: number) => {
  for (let i = 0; i < 10_000; i++) {
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    } catch {
      return
    }
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    if (state === "T" || state === "t" || state === "Z") return
  }
}

/**
 * Freezes the child, records what the checkpoints directory holds at that instant, then kills it
 * with SIGKILL: the process gets no chance to run another instruction, so the record is exactly
 * the state the kill left behind.
 */
const freezeAndKill = async (child: Child, dir: string) => {
  child.process.kill("SIGSTOP")
  waitStopped(child.process.pid!)
  const seen = checkpointDirs(dir)
  const lastStep = child.lastStep
  child.process.kill("SIGKILL")
  await child.exited
  return { ...seen, lastStep }
}

/** Arms the trigger; resolves true when the kill landed, false when the child exited first. */
const killOnTrigger = (child: Child, trigger: Trigger, dir: string) =>
  new Promise<false | (Awaited<ReturnType<typeof freezeAndKill>> & { readonly firedBy: string })>((resolve) => {
    let armed = true
    const known = new Set(fs.readdirSync(dir))
    let appeared = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    const fire = (delayMs: number, firedBy = trigger.kind as string) => {
      if (!armed) return
      armed = false
      watcher.close()
      clearTimeout(timer)
      setTimeout(() => void freezeAndKill(child, dir).then((seen) => resolve({ ...seen, firedBy })), delayMs)
    }
    const watcher = fs.watch(dir, (_event, name) => {
      if (name === null || known.has(name) || !fs.existsSync(path.join(dir, name))) return
      known.add(name)
      const wanted = trigger.kind === "saving"
        ? name.startsWith(`${TEMP_PREFIX}step-`)
        : trigger.kind === "saved" && parseStepDirName(name) !== undefined
      if (wanted && "nth" in trigger && ++appeared === trigger.nth) fire(trigger.delayMs)
    })
    if (trigger.kind === "timer") timer = setTimeout(() => fire(0), trigger.delayMs)
    // Whatever the trigger, a child that got this far is killed now: no process may finish the
    // run while kills are still planned.
    const after = trigger.kind === "step" ? trigger.after : MAX_STEPS_PER_LIFE
    child.onStep = (step) => {
      if (child.startStep !== undefined && step >= child.startStep + after) {
        if (trigger.kind === "step") fire(trigger.delayMs)
        else fire(0, `step limit (${after})`)
      }
    }
    void child.exited.then(() => {
      if (!armed) return
      armed = false
      watcher.close()
      clearTimeout(timer)
      resolve(false)
    })
  })

describe("crash safety", () => {
  it.each([1, 2])(
    "SIGKILL at random moments with P = %i, resumed with auto each time, ends bit-identical to an uninterrupted run",
    async (dp) => {
      const overrides = overridesWith(dp)
      const dir = tempDir("continuum-crash-")
      const runDir = path.join(dir, "run")
      const ckDir = checkpointsDir(runDir)
      // The directory exists from the start so that its changes can be watched from the first save.
      fs.mkdirSync(ckDir, { recursive: true })

      const completed = new Set<number>()
      const log: Array<Record<string, unknown>> = []
      let kills = 0
      let midSave = 0
      let finishedBy: string | undefined

      const report = () => {
        console.log(
          `crash test, seed ${SEED}: ${kills} kills (${midSave} during a save), completed by ${
            finishedBy ?? "(not completed)"
          }`
        )
        console.table(log)
      }
      // The kill log is printed even when an assertion below fails, so the case can be replayed.
      try {
        for (let attempt = 0; finishedBy === undefined; attempt++) {
          assert.isBelow(attempt, KILLS + 3, "the run never completed")
          const expectedStart = completed.size === 0 ? 0 : Math.max(...completed)
          const leftoversBefore = new Set(checkpointDirs(ckDir).temporary)
          const child = spawnChild(runDir, overrides)
          const trigger = kills < KILLS ? planKill(kills) : undefined
          const outcome = trigger === undefined ? false : await killOnTrigger(child, trigger, ckDir)
          const { code, signal } = await child.exited
          if (outcome === false) {
            assert.strictEqual(code, 0, `attempt ${attempt} exited with ${code}/${signal}: ${child.stderr}`)
            assert.isTrue(child.finished)
            finishedBy = `attempt ${attempt} (${
              trigger === undefined ? "no kill planned" : `finished before its ${trigger.kind} kill`
            })`
          } else {
            kills += 1
            // A save of this process was cut off (not a leftover an earlier kill left behind).
            if (
              outcome.temporary.some((name) => name.startsWith(`${TEMP_PREFIX}step-`) && !leftoversBefore.has(name))
            ) {
              midSave += 1
            }
            for (const step of outcome.complete) completed.add(step)
          }
          log.push({
            attempt,
            trigger: trigger === undefined ? "none" : JSON.stringify(trigger),
            from: child.startStep ?? "(not started)",
            ...(outcome === false
              ? { result: `exit ${code}` }
              : {
                firedBy: outcome.firedBy,
                killedAfterStep: outcome.lastStep,
                complete: outcome.complete.at(-1) ?? "none",
                leftovers: outcome.temporary.join(" ")
              })
          })
          // Whatever the kill interrupted, auto resumed from the newest checkpoint complete before it.
          if (child.startStep !== undefined) {
            assert.strictEqual(child.startStep, expectedStart, `attempt ${attempt} start step`)
          }
          // No checkpoint complete at any earlier kill has disappeared or stopped verifying.
          const reports = await withStore(
            runDir,
            (store) => Effect.forEach([...completed], (step) => store.verify(step))
          )
          for (const r of reports) assert.deepStrictEqual(r.problems, [], `step ${r.step} no longer verifies`)
          // A completed run: nothing to do any more.
          if (outcome !== false && outcome.complete.includes(STEPS)) finishedBy = `the final save before kill ${kills}`
        }
      } finally {
        report()
      }

      assert.isAtLeast(kills, 8)
      assert.isAtLeast(midSave, 1, "no kill landed while a save was being written")
      // Leftovers of interrupted saves are cleaned when the next process opens the store.
      if (!finishedBy.startsWith("the final save")) assert.deepStrictEqual(checkpointDirs(ckDir).temporary, [])

      const reference = await Effect.runPromise(
        // The reference runs on one rank: the kills, the resumes and the ranks all leave the trajectory alone.
        Effect.flatMap(tinyConfig(path.join(dir, "reference"), overridesWith(1)), (config) => trainRun(config))
      )
      const final = await withStore(runDir, (store) => store.load(STEPS))
      assertSameTensors(final.tensors.model, reference.params, "model")
      assertSameTensors(final.tensors.optimizer, reference.optimizer, "optimizer")
      assert.deepStrictEqual(trajectory(runDir), trajectory(path.join(dir, "reference")))
    }
  )
})
