/**
 * A test kit for resume behaviour: checks that a run composition — the default `runLayer` or
 * one's own, with a swapped kernel backend, data loader or model — keeps continuum's resume
 * promises. Each check trains real runs on disk (in a temporary directory unless `workDir` is
 * given) and fails with a typed error naming the stop point, the step, the field and both values.
 *
 * - `checkExactResume`: for each stop point k, train 0→N uninterrupted, 0→k (stopping right after
 *   a checkpoint at k, as a crash would), then resume `exact` k→N; the losses, LRs, gradient norms,
 *   evaluations, metrics file, final weights, optimizer moments and checkpoint state must be
 *   bit-identical. `changes` may alter what exact resume allows to change (e.g. `batch.dp`).
 * - `checkPolicyLaws`: for each stop point k, train 0→k, change the configuration and resume with
 *   the policy; then the laws of DESIGN.md ("Resume policies") must hold: see `PolicyLaw`.
 * - `checkRejected`: a plan that must be rejected fails the build with `PlanRejected` and leaves
 *   the run directory (metrics.jsonl, checkpoints) byte for byte as it was.
 *
 * Stop points are plain numbers, so any property-testing library can drive them:
 *
 * ```ts
 * import * as fc from "fast-check"
 * import { Effect } from "effect"
 * import { checkExactResume, checkPolicyLaws, composeRun, decodeRunConfig, presets } from "continuum"
 *
 * const config = await Effect.runPromise(decodeRunConfig({
 *   steps: 12,
 *   model: { dim: 16, layers: 1, heads: 2, ffnDim: 32, seqLen: 16 },
 *   batch: { global: 4, micro: 2 },
 *   schedule: { warmupSteps: 3 },
 *   checkpoint: { every: 4 }
 * }))
 *
 * // Exact recovery is bit-identical from any stop point, also when P changes on resume.
 * await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 11 }), (k) =>
 *   Effect.runPromise(checkExactResume({ config, stopAt: [k], changes: { "batch.dp": 2 } }))
 * ), { numRuns: 5 })
 *
 * // `continue` to twice the steps with twice the batch: the LR is continuous at k, the data
 * // cursor contiguous, the moments restored.
 * await Effect.runPromise(checkPolicyLaws({
 *   config, policy: presets.continue, changes: { steps: 24, "batch.global": 8 }, stopAt: [4, 9]
 * }))
 *
 * // Your own composition: any (config, start) => layer that provides Trainer, Model and Optimizer.
 * await Effect.runPromise(checkExactResume({
 *   config, stopAt: [5], build: (c, start) => composeRun(c, { start, data: myDataLayer(c) })
 * }))
 * ```
 *
 * Each check fails with the first difference it finds, e.g.
 * `ResumeMismatch: exact resume from step 5 differs from the uninterrupted run at step 7: loss is
 * 4.91…, expected 4.87…` or `PolicyLawViolated: law lr-continuity broken after resuming from step 11
 * at step 12: lr (schedule extend, |Δ| ≤ 1e-12) is 0.003, expected 0.00165`.
 */
import * as nodeFs from "node:fs"
import * as NodePath from "node:path"
import * as os from "node:os"
import { createHash } from "node:crypto"
import { NodeFileSystem } from "@effect/platform-node"
import { Cause, Context, Effect, Exit, FileSystem, Layer, Option, Schema, Stream } from "effect"
import { type CheckpointStore, makeCheckpointStore } from "../checkpoint/CheckpointStore.ts"
import { fileSystemDisk } from "../checkpoint/disk.ts"
import { checkpointsDir, stepDirName } from "../checkpoint/layout.ts"
import type { ConfigError } from "../config/ConfigError.ts"
import { applyOverrides, decodeRunConfig, encodeRunConfig } from "../config/loadConfig.ts"
import type { RunConfig } from "../config/RunConfig.ts"
import type { RunSettings } from "../config/RunSettings.ts"
import type { DataLoader } from "../data/DataLoader.ts"
import { modelFromConfig } from "../model/fromConfig.ts"
import { Model } from "../model/ModelService.ts"
import { Optimizer } from "../optim/OptimizerService.ts"
import { lr, resolveSchedule } from "../optim/schedule.ts"
import type { Tensor } from "../tensor/tensor.ts"
import { CheckpointState } from "../train/checkpointState.ts"
import type { TrainEvent } from "../train/events.ts"
import { runLayer } from "../train/layers.ts"
import { metricsFile } from "../train/MetricsWriter.ts"
import { Start } from "../train/Start.ts"
import { Trainer } from "../train/Trainer.ts"
import { canonicalJson, configLeaves } from "./changes.ts"
import { PlanRejected } from "./plan.ts"
import { plannedStartLayer } from "./plannedStart.ts"
import { selectTensors } from "./planner.ts"
import { presets, type ResumePolicy } from "./policy.ts"
import { DEFAULT_LR_JUMP_TOLERANCE } from "./reconcile.ts"

// -----------------------------------------------------------------------------------------------
// Types

/** How a run starts (fresh or planned); what `runLayer` takes as its second argument. */
export type RunStart = Layer.Layer<Start, unknown, RunSettings | DataLoader | CheckpointStore | FileSystem.FileSystem>

/**
 * A run composition: the layers of a complete run for a configuration and a start. The checks
 * pull `Trainer.events` to train, and read `Model` and `Optimizer` right after the build (before
 * any step) to check what a resume loaded. The default is `runLayer`.
 */
export type RunBuilder = (config: RunConfig, start: RunStart) => Layer.Layer<Trainer | Model | Optimizer, unknown>

/** Configuration changes as `--set` would write them: dotted path → value (encoded form). */
export type ConfigChanges = Readonly<Record<string, unknown>>

export interface ExactResumeOptions {
  /** The run to check; its `runDir` is not used (runs go to `workDir`). */
  readonly config: RunConfig
  /** Steps k to stop at and resume from, each in [1, config.steps − 1]. */
  readonly stopAt: ReadonlyArray<number>
  /** Changes applied to the resumed run only; exact allows P, A, logging and checkpoint cadence. */
  readonly changes?: ConfigChanges
  readonly build?: RunBuilder
  /** Where the runs go; default a temporary directory removed afterwards. */
  readonly workDir?: string
}

export interface ExactResumeReport {
  readonly totalSteps: number
  readonly stopPoints: ReadonlyArray<{
    readonly stopAt: number
    /** Step and evaluation events compared (those of the interrupted and the resumed run). */
    readonly eventsCompared: number
    /** Model and optimizer tensors of the final checkpoint compared. */
    readonly tensorsCompared: number
  }>
}

export interface PolicyLawOptions {
  /** The run that is stopped at each k; its `runDir` is not used. */
  readonly config: RunConfig
  readonly policy: ResumePolicy
  /** Changes of the resumed run (e.g. `{ steps: 24, "batch.global": 8 }`). */
  readonly changes?: ConfigChanges
  /** Steps k to stop at, each in [1, config.steps − 1] (and below the new total under step keep). */
  readonly stopAt: ReadonlyArray<number>
  readonly build?: RunBuilder
  /** Largest accepted |lr_after(k) − lr_before(k)| for keep, extend and rewarm; default 1e-12. */
  readonly lrTolerance?: number
  readonly workDir?: string
}

export interface PolicyLawReport {
  readonly stopPoints: ReadonlyArray<{
    readonly stopAt: number
    /** `S(k)`: the stored schedule's LR at k. */
    readonly lrBefore: number
    /** The LR of the first update after the resume. */
    readonly lrAfter: number
    /** The data cursor stored at k, and after the resumed run's last step. */
    readonly cursorAtStop: number
    readonly finalCursor: number
    /** Model tensors taken from the checkpoint, and those initialized fresh. */
    readonly loaded: ReadonlyArray<string>
    readonly fresh: ReadonlyArray<string>
  }>
}

export interface RejectedOptions {
  /** The configuration of the run that tries to start; its `runDir` is the one checked. */
  readonly config: RunConfig
  readonly policy: ResumePolicy
  /** A checkpoint directory or weights file; default the latest valid checkpoint of the run. */
  readonly from?: string
  readonly build?: RunBuilder
}

// -----------------------------------------------------------------------------------------------
// Errors

const Step = Schema.NullOr(Schema.Int)

export class InvalidStopPoint extends Schema.TaggedError<InvalidStopPoint>()("InvalidStopPoint", {
  stopAt: Schema.Number,
  totalSteps: Schema.Int,
  reason: Schema.String
}) {
  override get message(): string {
    return `stop point ${this.stopAt}: ${this.reason} (the run has ${this.totalSteps} steps)`
  }
}

/** One of the runs a check trains could not be built or failed while training. */
export class ResumeRunFailed extends Schema.TaggedError<ResumeRunFailed>()("ResumeRunFailed", {
  run: Schema.Literals(["uninterrupted", "interrupted", "resumed"]),
  stopAt: Step,
  error: Schema.Defect()
}) {
  override get message(): string {
    const at = this.stopAt === null ? "" : ` (stop point ${this.stopAt})`
    const inner = this.error as { readonly _tag?: unknown; readonly message?: unknown }
    const text = typeof inner?.message === "string" ? inner.message : String(this.error)
    return `the ${this.run} run${at} failed: ${typeof inner?._tag === "string" ? `${inner._tag}: ` : ""}${text}`
  }
}

/** Exact resume differs from the uninterrupted run; the first difference found. */
export class ResumeMismatch extends Schema.TaggedError<ResumeMismatch>()("ResumeMismatch", {
  stopAt: Schema.Int,
  /** The step the difference belongs to (`null` when it is not tied to one). */
  step: Step,
  /** What differs: `loss`, `model.<tensor>[i]`, `state.data.cursor`, `metrics.jsonl line 7`, … */
  field: Schema.String,
  /** The uninterrupted run's value, and the resumed run's. */
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message(): string {
    const at = this.step === null ? "" : ` at step ${this.step}`
    return `exact resume from step ${this.stopAt} differs from the uninterrupted run${at}: ` +
      `${this.field} is ${this.actual}, expected ${this.expected}`
  }
}

/**
 * The laws `checkPolicyLaws` checks:
 * - `model-load`: loaded tensors equal the checkpoint's; tensors not loaded (model init, or left
 *   out of a transfer's selection) equal a fresh initialization from the new seed.
 * - `optimizer-state`: reset starts from zero moments at optimizer step 0; load restores the
 *   checkpoint's moments and step.
 * - `step-counter`: updates continue at k + 1 under step keep, at 1 under step reset, to the new total.
 * - `lr-continuity`: keep, extend and rewarm continue at the stored LR (|lr_after(k) − S(k)| ≤
 *   tolerance); rebuild jumps by at most the policy's tolerance unless the discontinuity is allowed.
 * - `lr-restart`: restart's first LR is the new schedule's LR at step 0.
 * - `lr-nonnegative`: no update, before or after the resume, uses a negative or non-finite LR.
 * - `data-cursor`: the cursor stored at k is k·B; after the resume every checkpoint's cursor is
 *   the start cursor (k's under data load, 0 under reset) plus B' per update: never back, no gap.
 */
export const PolicyLaw = Schema.Literals([
  "model-load",
  "optimizer-state",
  "step-counter",
  "lr-continuity",
  "lr-restart",
  "lr-nonnegative",
  "data-cursor"
])
export type PolicyLaw = typeof PolicyLaw.Type

export class PolicyLawViolated extends Schema.TaggedError<PolicyLawViolated>()("PolicyLawViolated", {
  law: PolicyLaw,
  stopAt: Schema.Int,
  step: Step,
  field: Schema.String,
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message(): string {
    const at = this.step === null ? "" : ` at step ${this.step}`
    return `law ${this.law} broken after resuming from step ${this.stopAt}${at}: ${this.field} is ${this.actual}, expected ${this.expected}`
  }
}

/** A resume that should have been rejected was accepted. */
export class ResumeNotRejected extends Schema.TaggedError<ResumeNotRejected>()("ResumeNotRejected", {
  runDir: Schema.String,
  policy: Schema.String
}) {
  override get message(): string {
    return `the resume of ${this.runDir} with policy ${this.policy} was accepted; expected PlanRejected`
  }
}

/** A rejected start changed the run directory. */
export class RejectionWroteFiles extends Schema.TaggedError<RejectionWroteFiles>()("RejectionWroteFiles", {
  runDir: Schema.String,
  files: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `a rejected start changed ${this.runDir}: ${this.files.join(", ")}`
  }
}

export type ResumeCheckError = InvalidStopPoint | ResumeRunFailed | ResumeMismatch | ConfigError

// -----------------------------------------------------------------------------------------------
// Running

/** Applies `--set`-style changes to a configuration. */
export const applyChanges = (config: RunConfig, changes: ConfigChanges): Effect.Effect<RunConfig, ConfigError> =>
  Effect.flatMap(
    applyOverrides(encodeRunConfig(config), Object.entries(changes).map(([path, value]) => ({ path: path.split("."), value }))),
    decodeRunConfig
  )

const withRunDir = (config: RunConfig, runDir: string): RunConfig => ({ ...config, runDir })

/** A run that checkpoints at `k` (and its multiples): exact allows the cadence to change. */
const checkpointingAt = (config: RunConfig, k: number): RunConfig => ({ ...config, checkpoint: { ...config.checkpoint, every: k } })

type RunName = ResumeRunFailed["run"]

interface Initial {
  readonly params: Record<string, Tensor>
  readonly optimizerStep: number
  readonly optimizer: Record<string, Tensor>
}

const copyTensors = (tensors: ReadonlyMap<string, Tensor>): Record<string, Tensor> =>
  Object.fromEntries([...tensors].map(([name, t]) => [name, { shape: [...t.shape], data: t.data.slice() }]))

/**
 * Builds and trains one run; with `stopAt`, stops pulling right after the checkpoint event of that
 * step (the checkpoint is on disk once the scope closes, even an asynchronous one).
 */
const train = (
  build: RunBuilder,
  config: RunConfig,
  start: RunStart,
  run: RunName,
  options: { readonly stopAt?: number; readonly label: number | null; readonly captureInitial?: boolean }
) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(build(config, start))
    let initial: Initial | undefined
    if (options.captureInitial === true) {
      const optimizer = Context.get(context, Optimizer).state
      initial = {
        params: copyTensors(Context.get(context, Model).params),
        optimizerStep: optimizer.step,
        optimizer: copyTensors(optimizer.tensors)
      }
    }
    const stopAt = options.stopAt
    const events = Context.get(context, Trainer).events
    const collected = yield* Stream.runCollect(
      stopAt === undefined ? events : events.pipe(Stream.takeUntil((e) => e._tag === "Checkpoint" && e.step === stopAt))
    )
    return { events: collected as ReadonlyArray<TrainEvent>, initial }
  })).pipe(Effect.mapError((error) => new ResumeRunFailed({ run, stopAt: options.label, error })))

/** A read-only view of a run's checkpoints. */
const openStore = (runDir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* makeCheckpointStore(fileSystemDisk(fs), runDir, { cleanOnStart: false })
  })

const readCheckpoint = (runDir: string, step: number, run: RunName, label: number | null) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* openStore(runDir)
    const loaded = yield* store.load(step)
    const state = yield* Schema.decodeUnknownEffect(CheckpointState)(loaded.manifest.state)
    return { manifest: loaded.manifest, state, model: loaded.tensors.model, optimizer: loaded.tensors.optimizer }
  })).pipe(Effect.mapError((error) => new ResumeRunFailed({ run, stopAt: label, error })))

/** The state of every checkpoint of a run, by step. */
const checkpointStates = (runDir: string, run: RunName, label: number | null) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* openStore(runDir)
    const out: Array<CheckpointState> = []
    for (const listing of yield* store.list) {
      if (!listing.hasManifest) continue
      const ref = yield* store.manifest(listing.step)
      out.push(yield* Schema.decodeUnknownEffect(CheckpointState)(ref.manifest.state))
    }
    return out.sort((a, b) => a.step - b.step)
  })).pipe(Effect.mapError((error) => new ResumeRunFailed({ run, stopAt: label, error })))

/** The work directory, made and removed with the scope unless the caller gave one. */
const workDirectory = (given: string | undefined) =>
  given !== undefined
    ? Effect.sync(() => {
      nodeFs.mkdirSync(given, { recursive: true })
      return given
    })
    : Effect.acquireRelease(
      Effect.sync(() => nodeFs.mkdtempSync(NodePath.join(os.tmpdir(), "continuum-resume-check-"))),
      (dir) => Effect.sync(() => nodeFs.rmSync(dir, { recursive: true, force: true }))
    )

/** The distinct stop points, in the given order; each must leave steps on both sides. */
const checkStopPoints = (stopAt: ReadonlyArray<number>, totalSteps: number) =>
  Effect.forEach([...new Set(stopAt)], (k) =>
    Number.isSafeInteger(k) && k >= 1 && k < totalSteps
      ? Effect.succeed(k)
      : Effect.fail(new InvalidStopPoint({ stopAt: k, totalSteps, reason: `must be an integer in [1, ${totalSteps - 1}]` })))

// -----------------------------------------------------------------------------------------------
// Comparing

const show = (x: unknown): string => (typeof x === "number" ? String(x) : JSON.stringify(x) ?? "undefined")

interface Difference {
  readonly step: number | null
  readonly field: string
  readonly expected: string
  readonly actual: string
}

interface TrajectoryEvent {
  readonly step: number
  readonly kind: "Step" | "Eval"
  readonly values: Record<string, number>
}
type Trajectory = ReadonlyArray<TrajectoryEvent>

/** Step and evaluation events without wall-clock fields; checkpoint events depend on the cadence. */
const trajectoryOf = (events: ReadonlyArray<TrainEvent>, withEval: boolean): Trajectory =>
  events.flatMap((e): Array<TrajectoryEvent> =>
    e._tag === "Step"
      ? [{ step: e.step, kind: "Step" as const, values: { loss: e.loss, lr: e.lr, gradNorm: e.gradNorm, tokens: e.tokens } }]
      : e._tag === "Eval" && withEval
      ? [{ step: e.step, kind: "Eval" as const, values: { valLoss: e.valLoss } }]
      : []
  )

const firstEventDifference = (expected: Trajectory, actual: Trajectory): Difference | undefined => {
  const describe = (e: Trajectory[number] | undefined) => (e === undefined ? "no event" : `${e.kind} event of step ${e.step}`)
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const a = expected[i]
    const b = actual[i]
    if (a === undefined || b === undefined || a.kind !== b.kind || a.step !== b.step) {
      return { step: (a ?? b)!.step, field: `event ${i + 1}`, expected: describe(a), actual: describe(b) }
    }
    for (const [field, value] of Object.entries(a.values)) {
      if (!Object.is(value, b.values[field])) {
        return { step: a.step, field, expected: show(value), actual: show(b.values[field]) }
      }
    }
  }
  return undefined
}

/** The first difference between two named tensor sets, element by element (bit-exact, -0 ≠ 0). */
const firstTensorDifference = (
  group: string,
  expected: Readonly<Record<string, Tensor>>,
  actual: Readonly<Record<string, Tensor>>,
  step: number | null
): Difference | undefined => {
  const names = Object.keys(expected)
  const actualNames = Object.keys(actual)
  if (canonicalJson([...names].sort()) !== canonicalJson([...actualNames].sort())) {
    return { step, field: `${group} tensors`, expected: names.join(", "), actual: actualNames.join(", ") }
  }
  for (const name of names) {
    const a = expected[name]!
    const b = actual[name]!
    if (canonicalJson(a.shape) !== canonicalJson(b.shape)) {
      return { step, field: `${group}.${name} shape`, expected: show(a.shape), actual: show(b.shape) }
    }
    for (let i = 0; i < a.data.length; i++) {
      if (!Object.is(a.data[i], b.data[i])) {
        return { step, field: `${group}.${name}[${i}]`, expected: show(a.data[i]), actual: show(b.data[i]) }
      }
    }
  }
  return undefined
}

/** Leaf-by-leaf difference of two JSON values, e.g. checkpoint states. */
const firstLeafDifference = (prefix: string, expected: unknown, actual: unknown, step: number | null): Difference | undefined => {
  const a = configLeaves(expected)
  const b = configLeaves(actual)
  for (const path of new Set([...a.keys(), ...b.keys()])) {
    if (canonicalJson(a.get(path) ?? null) !== canonicalJson(b.get(path) ?? null)) {
      return { step, field: `${prefix}.${path}`, expected: show(a.get(path)), actual: show(b.get(path)) }
    }
  }
  return undefined
}

const encodeState = Schema.encodeSync(CheckpointState)

/** The checkpoint state that belongs to the trajectory: everything but the data-parallel degree. */
const trajectoryState = (state: CheckpointState): unknown => {
  const encoded = encodeState(state) as { data: { geometry: Record<string, unknown> } }
  const { dp: _dp, ...geometry } = encoded.data.geometry
  return { ...encoded, data: { ...encoded.data, geometry } }
}

/** metrics.jsonl as compared: resume markers dropped, wall-clock throughput dropped. */
const metricsLines = (runDir: string, withEval: boolean) =>
  Effect.sync(() => {
    const file = metricsFile(runDir)
    const records = nodeFs.existsSync(file)
      ? nodeFs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>)
      : []
    const markers = records.filter((r) => "resume" in r)
    const lines = records
      .filter((r) => !("resume" in r) && (withEval || !("valLoss" in r)))
      .map(({ tokensPerSec: _t, ...rest }) => rest)
    return { markers, lines }
  })

// -----------------------------------------------------------------------------------------------
// checkExactResume

/**
 * For each stop point k: trains 0→N, 0→k and resumes `exact` k→N, and fails with the first
 * difference (`ResumeMismatch`) between the uninterrupted and the resumed run.
 */
export const checkExactResume = (
  options: ExactResumeOptions
): Effect.Effect<ExactResumeReport, ResumeCheckError> =>
  Effect.scoped(Effect.gen(function*() {
    const build = options.build ?? runLayer
    const { config } = options
    const N = config.steps
    const stops = yield* checkStopPoints(options.stopAt, N)
    const resumedChanges = yield* applyChanges(config, options.changes ?? {})
    // Evaluations are compared unless the resumed run evaluates at other steps (allowed: logging).
    const withEval = canonicalJson(resumedChanges.eval) === canonicalJson(config.eval)
    const work = yield* workDirectory(options.workDir)

    const refDir = NodePath.join(work, "uninterrupted")
    const reference = yield* train(build, withRunDir(config, refDir), Start.fresh, "uninterrupted", { label: null })
    const refFinal = yield* readCheckpoint(refDir, N, "uninterrupted", null)
    const refMetrics = yield* metricsLines(refDir, withEval)

    const stopPoints: Array<ExactResumeReport["stopPoints"][number]> = []
    for (const k of stops) {
      const runDir = NodePath.join(work, `stop-${k}`)
      const mismatch = (d: Difference) => new ResumeMismatch({ stopAt: k, ...d })
      const interrupted = yield* train(build, checkpointingAt(withRunDir(config, runDir), k), Start.fresh, "interrupted", {
        stopAt: k,
        label: k
      })
      const resumedConfig = withRunDir(resumedChanges, runDir)
      const resumed = yield* train(build, resumedConfig, plannedStartLayer(presets.exact, undefined), "resumed", { label: k })

      const expected = trajectoryOf(reference.events, withEval)
      const actual = [...trajectoryOf(interrupted.events, withEval), ...trajectoryOf(resumed.events, withEval)]
      const eventDifference = firstEventDifference(expected, actual)
      if (eventDifference !== undefined) return yield* mismatch(eventDifference)

      const final = yield* readCheckpoint(runDir, N, "resumed", k)
      const tensorDifference = firstTensorDifference("model", refFinal.model, final.model, N) ??
        firstTensorDifference("optimizer", refFinal.optimizer, final.optimizer, N) ??
        firstLeafDifference("state", trajectoryState(refFinal.state), trajectoryState(final.state), N) ??
        firstLeafDifference("fingerprints", refFinal.manifest.fingerprints, final.manifest.fingerprints, N)
      if (tensorDifference !== undefined) return yield* mismatch(tensorDifference)

      const metrics = yield* metricsLines(runDir, withEval)
      const marker = canonicalJson(metrics.markers.map((m) => ({ step: m.step, resume: m.resume })))
      if (marker !== canonicalJson([{ step: k, resume: "exact" }])) {
        return yield* mismatch({
          step: k,
          field: "metrics.jsonl resume markers",
          expected: show([{ step: k, resume: "exact" }]),
          actual: marker
        })
      }
      for (let i = 0; i < Math.max(refMetrics.lines.length, metrics.lines.length); i++) {
        const a = refMetrics.lines[i]
        const b = metrics.lines[i]
        if (canonicalJson(a ?? null) !== canonicalJson(b ?? null)) {
          const step = (a ?? b)?.step
          return yield* mismatch({
            step: typeof step === "number" ? step : null,
            field: `metrics.jsonl record ${i + 1}`,
            expected: show(a ?? null),
            actual: show(b ?? null)
          })
        }
      }
      stopPoints.push({
        stopAt: k,
        eventsCompared: actual.length,
        tensorsCompared: Object.keys(final.model).length + Object.keys(final.optimizer).length
      })
    }
    return { totalSteps: N, stopPoints }
  })).pipe(Effect.provide(NodeFileSystem.layer))

// -----------------------------------------------------------------------------------------------
// checkPolicyLaws

/**
 * For each stop point k: trains `config` 0→k, applies `changes`, resumes with `policy` from the
 * checkpoint at k and checks every law of `PolicyLaw`; fails with the first `PolicyLawViolated`.
 */
export const checkPolicyLaws = (
  options: PolicyLawOptions
): Effect.Effect<PolicyLawReport, ResumeCheckError | PolicyLawViolated> =>
  Effect.scoped(Effect.gen(function*() {
    const build = options.build ?? runLayer
    const { config, policy } = options
    const tolerance = options.lrTolerance ?? 1e-12
    const stops = yield* checkStopPoints(options.stopAt, config.steps)
    const work = yield* workDirectory(options.workDir)
    const stopPoints: Array<PolicyLawReport["stopPoints"][number]> = []

    for (const k of stops) {
      const violated = (law: PolicyLaw, d: Difference) => new PolicyLawViolated({ law, stopAt: k, ...d })
      const beforeDir = NodePath.join(work, `stop-${k}`, "before")
      const afterDir = NodePath.join(work, `stop-${k}`, "after")
      const before = yield* train(build, checkpointingAt(withRunDir(config, beforeDir), k), Start.fresh, "interrupted", {
        stopAt: k,
        label: k
      })
      const stored = yield* readCheckpoint(beforeDir, k, "interrupted", k)
      const next = withRunDir(yield* applyChanges(config, options.changes ?? {}), afterDir)
      const from = NodePath.join(checkpointsDir(beforeDir), stepDirName(k))
      const after = yield* train(build, next, plannedStartLayer(policy, from), "resumed", { label: k, captureInitial: true })
      const initial = after.initial!

      // model-load: the selection (on the checkpoint's tensors of the same shape) or fresh init.
      const fresh = modelFromConfig(next.model).init(next.seed)
      const specs = modelFromConfig(next.model).params
      const selected = new Set(policy.model === "load" ? selectTensors(specs.map((s) => s.name), policy.tensors).selected : [])
      const loaded: Array<string> = []
      const freshNames: Array<string> = []
      for (const spec of specs) {
        const source = stored.model[spec.name]
        const fromSource = selected.has(spec.name) && source !== undefined &&
          canonicalJson(source.shape) === canonicalJson(spec.shape)
        ;(fromSource ? loaded : freshNames).push(spec.name)
        const want = fromSource ? source : fresh.get(spec.name)!
        const difference = firstTensorDifference(fromSource ? "model (loaded)" : "model (fresh)", { [spec.name]: want }, {
          [spec.name]: initial.params[spec.name]!
        }, null)
        if (difference !== undefined) return yield* violated("model-load", difference)
      }

      // optimizer-state: zero moments at step 0 after reset, the checkpoint's after load.
      if (policy.optimizer === "reset") {
        if (initial.optimizerStep !== 0) {
          return yield* violated("optimizer-state", { step: null, field: "optimizer step", expected: "0", actual: show(initial.optimizerStep) })
        }
        const zeros = Object.fromEntries(
          Object.entries(initial.optimizer).map(([name, t]) => [name, { shape: t.shape, data: new Float32Array(t.data.length) }])
        )
        const difference = firstTensorDifference("optimizer", zeros, initial.optimizer, null)
        if (difference !== undefined) return yield* violated("optimizer-state", difference)
      } else {
        if (initial.optimizerStep !== stored.state.optimizer.step) {
          return yield* violated("optimizer-state", {
            step: null,
            field: "optimizer step",
            expected: show(stored.state.optimizer.step),
            actual: show(initial.optimizerStep)
          })
        }
        const difference = firstTensorDifference("optimizer", stored.optimizer, initial.optimizer, null)
        if (difference !== undefined) return yield* violated("optimizer-state", difference)
      }

      // step-counter: k + 1 … N' under keep, 1 … N' under reset.
      const start = policy.step === "keep" ? k : 0
      const steps = after.events.flatMap((e) => (e._tag === "Step" ? [e] : []))
      const expectedSteps = Array.from({ length: next.steps - start }, (_, i) => start + 1 + i)
      if (canonicalJson(steps.map((e) => e.step)) !== canonicalJson(expectedSteps)) {
        return yield* violated("step-counter", {
          step: null,
          field: "steps run after the resume",
          expected: `${start + 1}…${next.steps}`,
          actual: steps.length === 0 ? "none" : `${steps[0]!.step}…${steps[steps.length - 1]!.step} (${steps.length} updates)`
        })
      }

      // lr-nonnegative: every update of both runs.
      for (const e of before.events.concat(after.events)) {
        if (e._tag === "Step" && !(Number.isFinite(e.lr) && e.lr >= 0)) {
          return yield* violated("lr-nonnegative", { step: e.step, field: "lr", expected: "a finite LR ≥ 0", actual: show(e.lr) })
        }
      }

      // lr-continuity / lr-restart at the resume step.
      const lrBefore = lr(stored.state.schedule, k)
      const lrAfter = steps[0]!.lr
      const schedule = policy.schedule
      if (schedule === "keep" || schedule === "extend" || schedule === "rewarm") {
        if (!(Math.abs(lrAfter - lrBefore) <= tolerance)) {
          return yield* violated("lr-continuity", {
            step: k + 1,
            field: `lr (schedule ${schedule}, |Δ| ≤ ${tolerance})`,
            expected: show(lrBefore),
            actual: show(lrAfter)
          })
        }
      } else if (schedule === "rebuild") {
        const limit = policy.tolerance ?? DEFAULT_LR_JUMP_TOLERANCE
        const jump = lrBefore === 0 ? (lrAfter === 0 ? 0 : Infinity) : Math.abs(lrAfter / lrBefore - 1)
        if (policy.allowDiscontinuity !== true && !(jump <= limit)) {
          return yield* violated("lr-continuity", {
            step: k + 1,
            field: `lr (schedule rebuild, relative jump ≤ ${limit})`,
            expected: show(lrBefore),
            actual: show(lrAfter)
          })
        }
      } else {
        const resolved = resolveSchedule(next.schedule, next.optimizer.lr, next.steps)
        const restartLr = resolved._tag === "Success" ? lr(resolved.success, 0) : NaN
        if (!(Math.abs(lrAfter - restartLr) <= tolerance)) {
          return yield* violated("lr-restart", { step: 1, field: "lr", expected: show(restartLr), actual: show(lrAfter) })
        }
      }

      // data-cursor: k·B at the stop; then base + B' per update at every checkpoint after.
      const cursorAtStop = stored.state.data.cursor
      if (cursorAtStop !== k * config.batch.global) {
        return yield* violated("data-cursor", {
          step: k,
          field: "data.cursor at the stop",
          expected: show(k * config.batch.global),
          actual: show(cursorAtStop)
        })
      }
      const base = policy.data === "load" ? cursorAtStop : 0
      const states = yield* checkpointStates(afterDir, "resumed", k)
      let previous = base
      for (const state of states) {
        const want = base + (state.step - start) * next.batch.global
        if (state.data.cursor !== want || state.data.cursor < previous) {
          return yield* violated("data-cursor", {
            step: state.step,
            field: `checkpoint ${stepDirName(state.step)} data.cursor`,
            expected: show(want),
            actual: show(state.data.cursor)
          })
        }
        previous = state.data.cursor
      }
      stopPoints.push({
        stopAt: k,
        lrBefore,
        lrAfter,
        cursorAtStop,
        finalCursor: states.length > 0 ? states[states.length - 1]!.data.cursor : base,
        loaded,
        fresh: freshNames
      })
    }
    return { stopPoints }
  })).pipe(Effect.provide(NodeFileSystem.layer))

// -----------------------------------------------------------------------------------------------
// checkRejected

/** Relative path → size, mtime and sha256 of every file below `dir`. */
const fileTree = (dir: string): Map<string, string> => {
  const out = new Map<string, string>()
  const walk = (current: string): void => {
    if (!nodeFs.existsSync(current)) return
    for (const entry of nodeFs.readdirSync(current, { withFileTypes: true })) {
      const full = NodePath.join(current, entry.name)
      if (entry.isDirectory()) {
        out.set(NodePath.relative(dir, full) + "/", "directory")
        walk(full)
      } else {
        const stat = nodeFs.statSync(full)
        const hash = createHash("sha256").update(nodeFs.readFileSync(full)).digest("hex")
        out.set(NodePath.relative(dir, full), `${stat.size} bytes, mtime ${stat.mtimeMs}, sha256 ${hash}`)
      }
    }
  }
  walk(dir)
  return out
}

/**
 * Builds the run with a planned start and expects the plan to be rejected: succeeds with the
 * `PlanRejected`, and fails if the start was accepted, failed otherwise, or changed any file of
 * the run directory (metrics.jsonl, checkpoints).
 */
export const checkRejected = (
  options: RejectedOptions
): Effect.Effect<PlanRejected, ResumeNotRejected | RejectionWroteFiles | ResumeRunFailed> =>
  Effect.gen(function*() {
    const build = options.build ?? runLayer
    const { config, policy } = options
    const before = fileTree(config.runDir)
    const exit = yield* Effect.scoped(Layer.build(build(config, plannedStartLayer(policy, options.from)))).pipe(Effect.exit)
    const after = fileTree(config.runDir)
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((file) => before.get(file) !== after.get(file))
    if (changed.length > 0) return yield* new RejectionWroteFiles({ runDir: config.runDir, files: changed.sort() })
    if (Exit.isSuccess(exit)) return yield* new ResumeNotRejected({ runDir: config.runDir, policy: canonicalJson(policy) })
    const error = Cause.findErrorOption(exit.cause)
    if (Option.isSome(error) && error.value instanceof PlanRejected) return error.value
    return yield* new ResumeRunFailed({
      run: "resumed",
      stopAt: null,
      error: Option.isSome(error) ? error.value : Cause.squash(exit.cause)
    })
  })
