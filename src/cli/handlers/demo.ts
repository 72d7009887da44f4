import { Console, Effect } from "effect"
import { runDemo, type VariantName } from "../../demo/demo.ts"
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

export interface DemoArgs {
  readonly out: string
  readonly steps: number | undefined
  readonly quick: boolean
}

/** `continuum demo`: the resume-with-changed-steps story as real runs, a report and a summary. */
export const demo = (args: DemoArgs) =>
  Effect.gen(function*() {
    const progress = progressPerVariant()
    const result = yield* runDemo(
      { outDir: args.out, steps: args.steps, quick: args.quick },
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
