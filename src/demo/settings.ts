/**
 * What the demo trains: a model small enough that all its variants run in a few minutes on two
 * cores, with torchtitan's original schedule (linear warm-up, then linear decay to the last step),
 * and the step counts of the story: the original total `N`, the resume step `k`, and the longer
 * total `N'` the resumed variants are asked to reach.
 */
import { Effect } from "effect"
import { decodeRunConfig } from "../config/loadConfig.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import { DemoError } from "./DemoError.ts"
import { DEFAULT_STEPS, QUICK_STEPS } from "./stepCounts.ts"

export { DEFAULT_STEPS, QUICK_STEPS } from "./stepCounts.ts"

export interface DemoOptions {
  /** Directory that receives one run directory per variant and the report. */
  readonly outDir: string
  /** The original total `N`; default 300 (16 with `quick`). */
  readonly steps?: number | undefined
  /** A tiny model and few steps: the whole demo in seconds (tests, smoke checks). */
  readonly quick?: boolean | undefined
}

export interface DemoSettings {
  readonly outDir: string
  readonly quick: boolean
  /** `N`: the baseline's total steps. */
  readonly steps: number
  /** `k`: where the run is stopped and every resumed variant starts. */
  readonly resumeStep: number
  /** `N'`: the total the changed-steps variants train to. */
  readonly extendedSteps: number
  /**
   * The steps over which the loss bump after `k` is measured: from `k + 2` (the first loss that
   * update `k + 1`, the first at the new LR, can change) over a tenth of the run, within `N`.
   */
  readonly bumpSteps: { readonly from: number; readonly to: number }
  /** The warm-up length `W` of the schedule. */
  readonly warmupSteps: number
  /** Everything but `runDir` and `steps`, in the encoded (JSON) form of a run configuration. */
  readonly base: Readonly<Record<string, unknown>>
}

/** The smallest `N` that leaves a warm-up, a decay before `k` and steps after it. */
export const MIN_STEPS = 8

/**
 * dim 32, one layer, 8 windows of 64 bytes per step: ≈35 ms per step on one core, so the legs
 * of the demo (2N + 2(N' − k) = 4.5N steps) take about a minute for the default N. The peak LR is higher than
 * the reference model's because a smaller model tolerates (and needs) it; it also makes the effect
 * of the LR jump on the loss easy to see.
 */
const fullBase = (steps: number, resumeStep: number, warmupSteps: number) => ({
  seed: 1234,
  model: { kind: "llama", dim: 32, layers: 1, heads: 4, ffnDim: 96, seqLen: 64 },
  batch: { global: 8, micro: 8, dp: 1 },
  optimizer: { kind: "adamw", lr: 1e-2 },
  schedule: { kind: "warmup-decay", warmupSteps, decayShape: "linear", minLrFactor: 0.1 },
  eval: { every: Math.max(1, Math.round(steps / 12)), batches: 4 },
  checkpoint: { every: resumeStep, keepLatest: 10, async: false }
})

/** The tiny model of the test suite's runs: a few milliseconds per step. */
const quickBase = (steps: number, resumeStep: number, warmupSteps: number) => ({
  seed: 7,
  model: { kind: "llama", dim: 16, layers: 1, heads: 2, ffnDim: 32, seqLen: 16 },
  batch: { global: 4, micro: 2, dp: 1 },
  optimizer: { kind: "adamw", lr: 1e-2 },
  schedule: { kind: "warmup-decay", warmupSteps, decayShape: "linear", minLrFactor: 0.1 },
  eval: { every: Math.max(1, Math.round(steps / 4)), batches: 2 },
  checkpoint: { every: resumeStep, keepLatest: 10, async: false }
})

/**
 * Resolves the options: `k = ⌊3N/4⌋`, `N' = 2N`, a warm-up of a tenth of the run (at least one
 * step). A late `k` is the case that hurts: a run nearly done is asked to go on, its LR has
 * decayed far, and a schedule rebuilt for `N'` sends it back up (×2 here; ×1.35 at `k = N/2`).
 */
export const demoSettings = (options: DemoOptions): Effect.Effect<DemoSettings, DemoError> => {
  const quick = options.quick ?? false
  const steps = options.steps ?? (quick ? QUICK_STEPS : DEFAULT_STEPS)
  if (!Number.isInteger(steps) || steps < MIN_STEPS) {
    return Effect.fail(
      new DemoError({ variant: "settings", reason: `--steps ${steps}: must be an integer ≥ ${MIN_STEPS}` })
    )
  }
  const resumeStep = Math.floor((3 * steps) / 4)
  const warmupSteps = Math.max(1, Math.round(steps / 10))
  const base = quick ? quickBase(steps, resumeStep, warmupSteps) : fullBase(steps, resumeStep, warmupSteps)
  return Effect.succeed({
    outDir: options.outDir,
    quick,
    steps,
    resumeStep,
    extendedSteps: 2 * steps,
    bumpSteps: {
      from: resumeStep + 2,
      to: resumeStep + 1 + Math.min(steps - resumeStep - 1, Math.max(1, Math.round(steps / 10)))
    },
    warmupSteps,
    base
  })
}

/** The run configuration of one variant: the shared settings with its own directory and total. */
export const variantConfig = (
  settings: DemoSettings,
  runDir: string,
  steps: number
): Effect.Effect<RunConfig, DemoError> =>
  decodeRunConfig({ ...settings.base, runDir, steps }).pipe(
    Effect.mapError((error) => new DemoError({ variant: "settings", reason: error.message }))
  )
