import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { runDemo, type VariantName } from "../../demo/demo.ts"
import { DEFAULT_STEPS, QUICK_STEPS } from "../../demo/settings.ts"
import type { Progress } from "../../tensor/progress.ts"
import { makeProgress } from "../progress.ts"

/**
 * One progress display per variant; a new variant ends the previous one's status line. Each line
 * starts with the whole demo's progress (updates over all legs), e.g. `demo 38% · rebuild · `.
 */
const progressPerVariant = () => {
  let current: { variant: VariantName; progress: ReturnType<typeof makeProgress> } | undefined
  let overall: Progress | undefined
  const prefix = () =>
    overall === undefined
      ? ""
      : `demo ${Math.floor((100 * overall.done) / Math.max(1, overall.total))}% · ${current?.variant ?? ""} · `
  return {
    onProgress: (progress: Progress) => {
      overall = progress
    },
    onEvent: (
      variant: VariantName,
      totalSteps: number,
      event: Parameters<ReturnType<typeof makeProgress>["onEvent"]>[0]
    ) => {
      if (current?.variant !== variant) {
        current?.progress.finish()
        current = { variant, progress: makeProgress(totalSteps, process.stderr, 100, prefix) }
      }
      current.progress.onEvent(event)
    },
    finish: () => {
      current?.progress.finish()
      current = undefined
    }
  }
}

/** `continuum demo`: the resume-with-changed-steps story as real runs, a report and a summary. */
export const demoCommand = Command.make(
  "demo",
  {
    out: Flag.String("out").pipe(
      Flag.withDescription("Directory for the variants' run directories and the report"),
      Flag.withDefault("runs/demo")
    ),
    steps: Flag.Int("steps").pipe(
      Flag.withDescription(`The original total steps N (default ${DEFAULT_STEPS}; ${QUICK_STEPS} with --quick)`),
      Flag.optional
    ),
    quick: Flag.Boolean("quick").pipe(
      Flag.withDescription("A tiny model and few steps: the whole demo in seconds"),
      Flag.withDefault(false)
    )
  },
  (flags) =>
    Effect.gen(function*() {
      const progress = progressPerVariant()
      const result = yield* runDemo(
        { outDir: flags.out, steps: Option.getOrUndefined(flags.steps), quick: flags.quick },
        {
          onStage: (line) => {
            progress.finish()
            process.stderr.write(`${line}\n`)
          },
          onEvent: progress.onEvent,
          onProgress: progress.onProgress
        }
      )
      progress.finish()
      yield* Console.log(result.summary)
    })
).pipe(
  Command.withDescription(
    "Reproduce torchtitan's changed-steps resume failure and continuum's fix on Moby-Dick: " +
      "baseline, exact resume, rebuilt vs extended schedule, the planner's refusals, and a report"
  )
)
