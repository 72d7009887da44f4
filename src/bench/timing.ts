/**
 * How the benchmarks time things: warm-up, repetition and the statistics come from tinybench;
 * this module only fixes what every benchmark here shares (synchronous runs, errors thrown, no
 * default time budgets) and hands back tinybench's latency statistics, in milliseconds.
 */
import { Bench, type FnReturnedObject, type HookMode, type Statistics } from "tinybench"

export type { Statistics } from "tinybench"

export interface TimingOptions {
  /** Timed calls, at least. */
  readonly iterations: number
  /** Keep timing until the timed calls add up to this many milliseconds (default 0: calls only). */
  readonly timeMs?: number
  /** Untimed calls first (default 0). */
  readonly warmupIterations?: number
  /** Keep warming up until this many milliseconds have passed (default 0: calls only). */
  readonly warmupMs?: number
}

/**
 * Times `call` synchronously. `call` learns whether it is warming up or timed, so that it can
 * record samples of its own beside tinybench's (the stages of a call, the parts of a step); it
 * may return the duration it measured itself (tinybench's `overriddenDuration`), which then
 * replaces the sample tinybench took around it.
 */
export const timeSync = (
  call: (phase: HookMode) => FnReturnedObject | undefined,
  options: TimingOptions
): Statistics => {
  const warmupIterations = options.warmupIterations ?? 0
  const warmupMs = options.warmupMs ?? 0
  let phase: HookMode = "warmup"
  const bench = new Bench({
    iterations: options.iterations,
    time: options.timeMs ?? 0,
    warmup: warmupIterations > 0 || warmupMs > 0,
    warmupIterations,
    warmupTime: warmupMs,
    throws: true,
    setup: (_task, mode) => {
      phase = mode ?? "run"
    }
  })
  bench.add("call", () => call(phase), { async: false })
  const [task] = bench.runSync()
  const result = task?.result
  if (result?.state !== "completed") throw new Error(`benchmark did not complete: ${result?.state ?? "no task"}`)
  return result.latency
}

/** The median of samples a benchmark records beside tinybench's own. */
export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
