/**
 * `continuum inspect DIR [--verify] [--json]`: what a checkpoint holds (files, tensors,
 * configuration, state, lineage), or what checkpoints a run directory holds. Reading only: no
 * file is written or cleaned, so it is safe while the run is training.
 */
import { Console, Effect, FileSystem, Option, Result, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import type { CheckpointStoreShape } from "../../checkpoint/CheckpointStore.ts"
import type { CheckpointProblem } from "../../checkpoint/errors.ts"
import { stepDirName } from "../../checkpoint/layout.ts"
import {
  type ComponentFile,
  type ComponentName,
  componentNames,
  type Fingerprints,
  type Lineage,
  type Manifest,
  MANIFEST_FILE
} from "../../checkpoint/manifest.ts"
import { decodeRunConfig } from "../../config/loadConfig.ts"
import type { RunConfig } from "../../config/RunConfig.ts"
import { lr, totalStepsOf } from "../../optim/schedule.ts"
import { openReadOnlyStore, resolveTarget } from "../../sample/target.ts"
import { shapeString, sizeOf } from "../../tensor/tensor.ts"
import { CheckpointState } from "../../train/checkpointState.ts"

export interface InspectArgs {
  /** A checkpoint directory or a run directory. */
  readonly dir: string
  /** Check sizes and sha256 of every file; the command fails when a check fails. */
  readonly verify: boolean
  /** Print one JSON object instead of text. */
  readonly json: boolean
}

// ---- the report -----------------------------------------------------------------------------

export interface TensorEntry {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly parameters: number
}

export interface ComponentReport {
  readonly component: ComponentName
  readonly file: string
  readonly bytes: number
  readonly sha256: string
  readonly tensorCount: number
  /** Total elements over the component's tensors. */
  readonly parameters: number
  /** By name. */
  readonly tensors: ReadonlyArray<TensorEntry>
}

/** The trajectory-shaping part of the stored configuration. */
export interface ConfigSummary {
  readonly model: RunConfig["model"]
  readonly steps: number
  readonly seed: number
  readonly batch: RunConfig["batch"] & { readonly accumulation: number }
  readonly optimizer: RunConfig["optimizer"]
  readonly schedule: RunConfig["schedule"]
  readonly data: RunConfig["data"]
}

export interface StateSummary {
  readonly dataCursor: number
  readonly samplesSeen: number
  readonly tokensSeen: number
  readonly optimizerKind: string
  readonly optimizerStep: number
  /** `wsd` (as configured) or `spliced` (reconciled at a resume). */
  readonly scheduleForm: string
  readonly scheduleTotalSteps: number
  /** `lr(schedule, step)`: the rate of the next update, the first one a resume runs. */
  readonly lrAtStep: number
  readonly rng: { readonly seed: number; readonly sampleCounter: number }
}

/** One checkpoint of a lineage; `resumedWith` is the policy that started its run from the next one. */
export interface LineageNode {
  readonly runId: string
  readonly step: number
  readonly location: string
  readonly time: string
  readonly resumedWith?: string
}

export type LineageEnd =
  /** The oldest checkpoint found has no parent: its run started fresh. */
  | { readonly kind: "origin" }
  /** The oldest checkpoint found names a parent that cannot be found or read. */
  | { readonly kind: "unresolved"; readonly parent: Lineage; readonly reason: string }

export interface LineageReport {
  /** Newest first; the first node is the checkpoint inspected. */
  readonly chain: ReadonlyArray<LineageNode>
  readonly end: LineageEnd
}

export interface Verification {
  readonly ok: boolean
  readonly problems: ReadonlyArray<CheckpointProblem>
}

export interface ManifestReport {
  readonly runId: string
  readonly time: string
  readonly parent?: Lineage
  readonly fingerprints: Fingerprints
  readonly components: ReadonlyArray<ComponentReport>
  readonly config: ConfigSummary | { readonly error: string }
  readonly state: StateSummary | { readonly error: string }
  readonly lineage: LineageReport
}

export interface CheckpointReport {
  readonly kind: "checkpoint"
  readonly location: string
  readonly step: number
  /** Present with --verify. */
  readonly verification?: Verification
  /** Absent only when --verify found the manifest itself unreadable. */
  readonly manifest?: ManifestReport
}

export interface RunCheckpointEntry {
  readonly step: number
  readonly location: string
  readonly hasManifest: boolean
  /** Present with --verify. */
  readonly verification?: Verification
}

export interface RunReport {
  readonly kind: "run"
  readonly runDir: string
  readonly checkpointsDir: string
  /** Newest first. */
  readonly checkpoints: ReadonlyArray<RunCheckpointEntry>
  /** The newest readable checkpoint (with --verify: the newest valid one), in detail. */
  readonly latest?: CheckpointReport
  /** Why `latest` is not the newest checkpoint, or why there is none. */
  readonly note?: string
}

export type InspectReport = CheckpointReport | RunReport

/** `inspect --verify` found at least one checkpoint that does not verify. */
export class VerificationFailed extends Schema.TaggedError<VerificationFailed>()("VerificationFailed", {
  /** `location: file: reason: detail`, one per problem. */
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `${this.problems.length} verification problem(s): ${this.problems.join("; ")}`
  }
}

// ---- building it ----------------------------------------------------------------------------

const componentReport = (component: ComponentName, entry: ComponentFile): ComponentReport => {
  const tensors = Object.keys(entry.tensors).sort().map((name) => ({
    name,
    shape: entry.tensors[name],
    parameters: sizeOf(entry.tensors[name])
  }))
  return {
    component,
    file: entry.file,
    bytes: entry.bytes,
    sha256: entry.sha256,
    tensorCount: tensors.length,
    parameters: tensors.reduce((n, t) => n + t.parameters, 0),
    tensors
  }
}

// Inspection explains a checkpoint even when part of it no longer decodes (a newer format, a
// hand-edited manifest): such a part is reported with its error instead of failing the command.
const configSummary = (encoded: unknown) =>
  Effect.map(Effect.result(decodeRunConfig(encoded)), (decoded): ConfigSummary | { readonly error: string } => {
    if (Result.isFailure(decoded)) return { error: decoded.failure.message }
    const c = decoded.success
    return {
      model: c.model,
      steps: c.steps,
      seed: c.seed,
      batch: { ...c.batch, accumulation: c.batch.global / (c.batch.micro * c.batch.dp) },
      optimizer: c.optimizer,
      schedule: c.schedule,
      data: c.data
    }
  })

const decodeState = Schema.decodeUnknownResult(CheckpointState)

const stateSummary = (manifest: Manifest): StateSummary | { readonly error: string } => {
  const decoded = decodeState(manifest.state)
  if (Result.isFailure(decoded)) return { error: decoded.failure.message }
  const s = decoded.success
  return {
    dataCursor: s.data.cursor,
    samplesSeen: s.samplesSeen,
    tokensSeen: s.tokensSeen,
    optimizerKind: s.optimizer.kind,
    optimizerStep: s.optimizer.step,
    scheduleForm: s.schedule._tag,
    scheduleTotalSteps: totalStepsOf(s.schedule),
    lrAtStep: lr(s.schedule, manifest.step),
    rng: s.rng
  }
}

const describeReadFailure = (error: { readonly _tag: string; readonly message: string }, store: CheckpointStoreShape, step: number) =>
  error._tag === "CheckpointNotFound" ? `no ${stepDirName(step)} in ${store.location}` : error.message

/**
 * Follows `parent` links through the same checkpoints directory: a parent `{runId, step}` is the
 * checkpoint of that step there, if it belongs to that run. Stops at a fresh start, or at the
 * first parent that is missing, unreadable, of another run, or already seen.
 */
export const lineageOf = (store: CheckpointStoreShape, location: string, manifest: Manifest) =>
  Effect.gen(function*() {
    const node = (m: Manifest, at: string): LineageNode => ({
      runId: m.runId,
      step: m.step,
      location: at,
      time: m.time,
      ...(m.parent === undefined ? {} : { resumedWith: m.parent.policy })
    })
    const chain: Array<LineageNode> = [node(manifest, location)]
    const seen = new Set([`${manifest.runId}@${manifest.step}`])
    let current = manifest
    while (current.parent !== undefined) {
      const parent = current.parent
      const unresolved = (reason: string): LineageReport => ({ chain, end: { kind: "unresolved", parent, reason } })
      const key = `${parent.runId}@${parent.step}`
      if (seen.has(key)) return unresolved(`step ${parent.step} of run ${parent.runId} is already in this lineage (a cycle)`)
      seen.add(key)
      const found = yield* Effect.result(store.manifest(parent.step))
      if (Result.isFailure(found)) return unresolved(describeReadFailure(found.failure, store, parent.step))
      const ref = found.success
      if (ref.manifest.runId !== parent.runId) {
        return unresolved(`${ref.location} belongs to run ${ref.manifest.runId}, not ${parent.runId}`)
      }
      chain.push(node(ref.manifest, ref.location))
      current = ref.manifest
    }
    return { chain, end: { kind: "origin" } } satisfies LineageReport
  })

const manifestReport = (store: CheckpointStoreShape, location: string, manifest: Manifest) =>
  Effect.gen(function*() {
    return {
      runId: manifest.runId,
      time: manifest.time,
      ...(manifest.parent === undefined ? {} : { parent: manifest.parent }),
      fingerprints: manifest.fingerprints,
      components: componentNames.map((c) => componentReport(c, manifest.components[c])),
      config: yield* configSummary(manifest.config),
      state: stateSummary(manifest),
      lineage: yield* lineageOf(store, location, manifest)
    } satisfies ManifestReport
  })

/** One checkpoint in detail; with `verify`, every file is checked and the problems are listed. */
export const checkpointReport = (store: CheckpointStoreShape, step: number, verify: boolean) =>
  Effect.gen(function*() {
    if (verify) {
      const report = yield* store.verify(step)
      const verification = { ok: report.problems.length === 0, problems: report.problems }
      if (Option.isNone(report.manifest)) return { kind: "checkpoint", location: report.location, step, verification } satisfies CheckpointReport
      return {
        kind: "checkpoint",
        location: report.location,
        step,
        verification,
        manifest: yield* manifestReport(store, report.location, report.manifest.value)
      } satisfies CheckpointReport
    }
    const ref = yield* store.manifest(step)
    return {
      kind: "checkpoint",
      location: ref.location,
      step,
      manifest: yield* manifestReport(store, ref.location, ref.manifest)
    } satisfies CheckpointReport
  })

/** A run's checkpoints, newest first, and the latest one in detail. */
export const runReport = (store: CheckpointStoreShape, runDir: string, verify: boolean) =>
  Effect.gen(function*() {
    const listing = yield* store.list
    const checkpoints: Array<RunCheckpointEntry> = []
    for (const { step, location, hasManifest } of listing) {
      if (!verify) {
        checkpoints.push({ step, location, hasManifest })
        continue
      }
      const report = yield* Effect.result(store.verify(step))
      // A checkpoint deleted by retention since the listing is no longer part of the run.
      if (Result.isFailure(report) && report.failure._tag === "CheckpointNotFound") continue
      if (Result.isFailure(report)) return yield* report.failure
      checkpoints.push({
        step,
        location,
        hasManifest,
        verification: { ok: report.success.problems.length === 0, problems: report.success.problems }
      })
    }
    const base = { kind: "run", runDir, checkpointsDir: store.location, checkpoints } as const
    if (checkpoints.length === 0) return { ...base, note: `no checkpoints in ${store.location}` } satisfies RunReport

    const skipped: Array<string> = []
    for (const entry of checkpoints) {
      const usable = verify ? entry.verification!.ok : entry.hasManifest
      if (usable) {
        const latest = yield* Effect.result(checkpointReport(store, entry.step, verify))
        if (Result.isSuccess(latest)) {
          const note = skipped.length === 0 ? undefined : `newer checkpoint(s) skipped: ${skipped.join(", ")}`
          return { ...base, latest: latest.success, ...(note === undefined ? {} : { note }) } satisfies RunReport
        }
        if (latest.failure._tag === "CheckpointIoError") return yield* latest.failure
        skipped.push(`${stepDirName(entry.step)} (${latest.failure.message})`)
      } else {
        skipped.push(`${stepDirName(entry.step)} (${verify ? "fails verification" : "no manifest"})`)
      }
    }
    return { ...base, note: `no ${verify ? "valid" : "readable"} checkpoint; skipped: ${skipped.join(", ")}` } satisfies RunReport
  })

/** The report for `args.dir`: a checkpoint or a run directory. */
export const inspectReport = (args: Pick<InspectArgs, "dir" | "verify">) =>
  Effect.scoped(Effect.gen(function*() {
    const target = yield* resolveTarget(args.dir)
    const store = yield* openReadOnlyStore(target.runDir)
    return target.kind === "checkpoint"
      ? yield* checkpointReport(store, target.step, args.verify)
      : yield* runReport(store, target.runDir, args.verify)
  }))

/** Every verification problem in the report, as `location: file: reason: detail`. */
export const verificationProblems = (report: InspectReport): ReadonlyArray<string> => {
  const lines = (location: string, v: Verification | undefined) =>
    (v?.problems ?? []).map((p) => `${location}: ${p.file}: ${p.reason}: ${p.detail}`)
  return report.kind === "checkpoint"
    ? lines(report.location, report.verification)
    : report.checkpoints.flatMap((c) => lines(c.location, c.verification))
}

// ---- rendering ------------------------------------------------------------------------------

const count = (n: number): string => n.toLocaleString("en-US")
const plural = (n: number, one: string, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`
/** Four significant digits without trailing zeros: 0.003, 3e-8, 1000. */
const rate = (x: number): string => {
  const [mantissa, exponent] = x.toPrecision(4).split("e")
  const trimmed = mantissa!.includes(".") ? mantissa!.replace(/\.?0+$/, "") : mantissa!
  return exponent === undefined ? trimmed : `${trimmed}e${exponent}`
}

const renderComponents = (components: ReadonlyArray<ComponentReport>): Array<string> => {
  const out = ["components"]
  for (const c of components) {
    out.push(`  ${c.component.padEnd(11)}${c.file}  ${plural(c.bytes, "byte")}  sha256 ${c.sha256}`)
    out.push(`  ${"".padEnd(11)}${plural(c.tensorCount, "tensor")}, ${plural(c.parameters, "parameter")}`)
    const width = Math.max(0, ...c.tensors.map((t) => t.name.length))
    for (const t of c.tensors) out.push(`  ${"".padEnd(13)}${t.name.padEnd(width)}  ${shapeString(t.shape)}`)
  }
  return out
}

const renderConfig = (config: ManifestReport["config"]): Array<string> => {
  if ("error" in config) return ["config", `  cannot be decoded: ${config.error}`]
  const { model: m, batch: b, optimizer: o, schedule: s } = config
  const decay = s.kind === "constant"
    ? ""
    : s.decaySteps !== undefined
    ? ` · decay ${s.decaySteps} steps ${s.decayShape}`
    : ` · decay ratio ${s.decayRatio ?? 0.2} ${s.decayShape}`
  const optimizer = o.kind === "adamw"
    ? `adamw · lr ${rate(o.lr)} · betas ${o.betas[0]}/${o.betas[1]} · eps ${o.eps} · weight decay ${o.weightDecay}`
    : `sgd · lr ${rate(o.lr)} · momentum ${o.momentum}${o.nesterov ? " (nesterov)" : ""} · weight decay ${o.weightDecay}`
  return [
    "config",
    `  model      ${m.kind} · vocab ${m.vocabSize} · dim ${m.dim} · ${plural(m.layers, "layer")} · ${plural(m.heads, "head")} · ffn ${m.ffnDim} · seqLen ${m.seqLen}`,
    `  training   ${plural(config.steps, "step")} · seed ${config.seed} · data ${config.data.source} (validation ${config.data.valFraction})`,
    `  batch      ${b.global} samples/step = micro ${b.micro} × accumulation ${b.accumulation} × dp ${b.dp}`,
    `  optimizer  ${optimizer} · clip ${o.clipNorm}`,
    `  schedule   ${s.kind} · warm-up ${s.warmupSteps}${decay} · floor ${s.kind === "constant" ? 1 : s.minLrFactor}×`
  ]
}

const renderState = (step: number, state: ManifestReport["state"]): Array<string> => {
  if ("error" in state) return ["state", `  cannot be decoded: ${state.error}`]
  return [
    "state",
    `  data       cursor ${count(state.dataCursor)} · samples seen ${count(state.samplesSeen)} · tokens seen ${count(state.tokensSeen)}`,
    `  optimizer  ${state.optimizerKind} · step ${count(state.optimizerStep)}`,
    `  schedule   ${state.scheduleForm} over ${plural(state.scheduleTotalSteps, "step")} · lr at step ${step}: ${rate(state.lrAtStep)}`,
    `  rng        seed ${state.rng.seed} · sample counter ${count(state.rng.sampleCounter)}`
  ]
}

const renderLineage = (lineage: LineageReport): Array<string> => {
  const out = ["lineage (newest first)"]
  lineage.chain.forEach((n, i) => {
    out.push(`  step ${n.step} of run ${n.runId}  saved ${n.time}  ${i === 0 ? "(this checkpoint)" : n.location}`)
    if (n.resumedWith !== undefined && i < lineage.chain.length - 1) out.push(`    resumed with ${n.resumedWith} from`)
  })
  const end = lineage.end
  out.push(
    end.kind === "origin"
      ? "    started fresh"
      : `    resumed with ${end.parent.policy} from step ${end.parent.step} of run ${end.parent.runId}: not found (${end.reason}); lineage ends here`
  )
  return out
}

const renderVerification = (v: Verification): Array<string> =>
  v.ok
    ? ["verification", `  ok: ${MANIFEST_FILE} and every tensor file match their sizes and sha256`]
    : ["verification", `  FAILED (${plural(v.problems.length, "problem")})`, ...v.problems.map((p) => `  ${p.file}: ${p.reason}: ${p.detail}`)]

const renderCheckpoint = (r: CheckpointReport): Array<string> => {
  const out = [`checkpoint ${r.location}`]
  const m = r.manifest
  if (m === undefined) {
    out.push(`  step ${r.step} · manifest unreadable`)
  } else {
    out.push(`  step ${r.step} · run ${m.runId} · saved ${m.time}`)
    out.push(...renderComponents(m.components), ...renderConfig(m.config), ...renderState(r.step, m.state), ...renderLineage(m.lineage))
  }
  if (r.verification !== undefined) out.push(...renderVerification(r.verification))
  return out
}

const renderRun = (r: RunReport): Array<string> => {
  const out = [`run ${r.runDir}: ${plural(r.checkpoints.length, "checkpoint")} in ${r.checkpointsDir} (newest first)`]
  for (const c of r.checkpoints) {
    const mark = c.verification === undefined
      ? (c.hasManifest ? "" : "  no manifest")
      : c.verification.ok
      ? "  valid"
      : `  FAILS: ${c.verification.problems.map((p) => `${p.file}: ${p.reason}`).join(", ")}`
    out.push(`  ${stepDirName(c.step)}${mark}`)
  }
  if (r.note !== undefined) out.push(r.note)
  if (r.latest !== undefined) out.push("", `latest${r.checkpoints.some((c) => c.verification !== undefined) ? " valid" : ""}:`, ...renderCheckpoint(r.latest))
  return out
}

/** The report as text. */
export const renderInspect = (report: InspectReport): string =>
  (report.kind === "checkpoint" ? renderCheckpoint(report) : renderRun(report)).join("\n")

// ---- the command ----------------------------------------------------------------------------

/** `continuum inspect`: prints the report; with --verify, fails after printing when a check failed. */
export const inspect = (args: InspectArgs): Effect.Effect<
  void,
  Effect.Error<ReturnType<typeof inspectReport>> | VerificationFailed,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const report = yield* inspectReport(args)
    yield* Console.log(args.json ? JSON.stringify(report, null, 2) : renderInspect(report))
    const problems = verificationProblems(report)
    if (args.verify && problems.length > 0) return yield* new VerificationFailed({ problems })
  })

export const inspectCommand = Command.make(
  "inspect",
  {
    dir: Argument.String("dir").pipe(
      Argument.withDescription("Checkpoint directory (…/checkpoints/step-NNNNNNNN) or run directory")
    ),
    verify: Flag.Boolean("verify").pipe(
      Flag.withDescription("Check the size and sha256 of every file; exit 1 when a check fails"),
      Flag.withDefault(false)
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print one JSON object"), Flag.withDefault(false))
  },
  inspect
).pipe(Command.withDescription("Show a checkpoint (files, tensors, configuration, state, lineage) or a run's checkpoints"))
