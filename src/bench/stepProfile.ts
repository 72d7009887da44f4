/**
 * `bench step --profile`: where the time of a training step goes on the cpu backend. The step is
 * the one `bench step` times; its kernels are wrapped by `profiledKernels`, which times each call
 * and hands it to a `StepAttributor`. The kernels themselves are untouched and compute the same
 * numbers in the same order.
 */
import { makeCpuKernels } from "../kernels/cpu/index.ts"
import type { LlamaConfig } from "../model/model.ts"
import { type KernelMethod, profiledKernels } from "./profiledKernels.ts"
import { prepareReferenceStep, referenceBatch, timeReferenceStep } from "./step.ts"
import {
  familyOf,
  modelParts,
  partOfParam,
  profileFamilies,
  type ProfileFamily,
  type StepAttribution,
  StepAttributor
} from "./stepAttribution.ts"
import { median, timeSync } from "./timing.ts"

export interface FamilyRow {
  readonly family: ProfileFamily | "outside kernels"
  readonly ms: number
  /** Of the step's time. */
  readonly share: number
  /** Kernel calls per step (0 for the time outside kernels). */
  readonly calls: number
}

export interface MethodRow {
  readonly method: KernelMethod
  readonly family: ProfileFamily
  readonly ms: number
  readonly share: number
  readonly calls: number
}

export interface PartRow {
  /** `embedding`, `layer i`, `head`, `loss`, `optimizer`, or `outside kernels`. */
  readonly part: string
  readonly forwardMs: number
  readonly backwardMs: number
  /** Clipping and the AdamW update (the optimizer's row only). */
  readonly updateMs: number
  readonly ms: number
  readonly share: number
  readonly calls: number
}

export interface StepProfile {
  readonly model: LlamaConfig
  readonly batch: number
  readonly tokensPerStep: number
  readonly backend: string
  readonly steps: number
  readonly warmup: number
  /**
   * The profiled step whose total time is the median of the timed steps (the lower one of the
   * two middle steps when their number is even); every row below is that step's, so the rows add
   * up to exactly its time.
   */
  readonly msPerStep: number
  /** The median step with the kernels unwrapped, timed before the profile: the profiler's own cost is the difference. */
  readonly msPerStepUnprofiled: number
  /** The median over the timed profiled steps of their kernel time. */
  readonly msInKernelsMedian: number
  readonly msInKernels: number
  /** Time of the step spent outside any kernel: the tape, its closures, buffers, bookkeeping. */
  readonly msOutsideKernels: number
  /** Kernel families with at least one call, most time first, then the time outside kernels. */
  readonly families: ReadonlyArray<FamilyRow>
  /** Each kernel call with at least one call, most time first: the families split up. */
  readonly methods: ReadonlyArray<MethodRow>
  /** The parts of the model in forward order, the loss, the optimizer, then the time outside kernels. */
  readonly parts: ReadonlyArray<PartRow>
}

export interface StepProfileOptions {
  readonly model: LlamaConfig
  readonly steps: number
  readonly warmup: number
}

interface ProfiledStep {
  readonly ms: number
  readonly attribution: StepAttribution
}

/** The step whose time is the median (the lower middle one when there are evenly many). */
const medianStep = (samples: ReadonlyArray<ProfiledStep>): ProfiledStep => {
  const sorted = [...samples].sort((a, b) => a.ms - b.ms)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

const familyRows = (step: ProfiledStep): Array<FamilyRow> => {
  const rows: Array<FamilyRow> = profileFamilies.flatMap((family) => {
    const tally = step.attribution.families.get(family)
    return tally === undefined ? [] : [{ family, ms: tally.ms, share: tally.ms / step.ms, calls: tally.calls }]
  })
  rows.sort((a, b) => b.ms - a.ms)
  const outside = step.ms - step.attribution.kernelMs
  return [...rows, { family: "outside kernels", ms: outside, share: outside / step.ms, calls: 0 }]
}

const methodRows = (step: ProfiledStep): Array<MethodRow> =>
  [...step.attribution.methods].map(([method, tally]) => ({
    method,
    family: familyOf[method],
    ms: tally.ms,
    share: tally.ms / step.ms,
    calls: tally.calls
  })).sort((a, b) => b.ms - a.ms)

const partRows = (step: ProfiledStep, parts: ReadonlyArray<string>): Array<PartRow> => {
  const rows: Array<PartRow> = parts.map((part, i) => {
    const { backward, forward, update } = step.attribution.byPart[i]!
    const ms = forward.ms + backward.ms + update.ms
    return {
      part,
      forwardMs: forward.ms,
      backwardMs: backward.ms,
      updateMs: update.ms,
      ms,
      share: ms / step.ms,
      calls: forward.calls + backward.calls + update.calls
    }
  })
  const outside = step.ms - step.attribution.kernelMs
  return [...rows, {
    part: "outside kernels",
    forwardMs: 0,
    backwardMs: 0,
    updateMs: 0,
    ms: outside,
    share: outside / step.ms,
    calls: 0
  }]
}

/**
 * Profiles the training step of `model` on the cpu backend: `warmup` untimed steps, then
 * `steps` timed ones, after timing the same step unwrapped as many times for comparison.
 */
export const runStepProfile = (options: StepProfileOptions): StepProfile => {
  const { model, steps, warmup } = options
  const plain = timeReferenceStep(makeCpuKernels(), "cpu", steps, warmup, model)

  const cpu = makeCpuKernels()
  const step = prepareReferenceStep(model, cpu.storage)
  const parts = modelParts(model.layers)
  const partOfBuffer = new Map<unknown, number>()
  for (const [name, tensor] of step.params) partOfBuffer.set(tensor.data, partOfParam(name, model.layers))
  for (const [name, tensor] of step.grads) partOfBuffer.set(tensor.data, partOfParam(name, model.layers))
  const attributor = new StepAttributor(parts, partOfBuffer)
  const kernels = profiledKernels(cpu, attributor.record)

  const samples: Array<ProfiledStep> = []
  timeSync((phase) => {
    const t0 = performance.now()
    step.forwardBackward(kernels)
    attributor.startUpdate()
    step.clipAndUpdate(kernels)
    const ms = performance.now() - t0
    const attribution = attributor.finishStep()
    if (phase === "run") samples.push({ ms, attribution })
    return { overriddenDuration: ms }
  }, { iterations: steps, warmupIterations: warmup })

  const chosen = medianStep(samples)
  return {
    model,
    batch: referenceBatch,
    tokensPerStep: step.tokens,
    backend: `cpu (${cpu.mode})`,
    steps: samples.length,
    warmup,
    msPerStep: chosen.ms,
    msPerStepUnprofiled: plain.msPerStep,
    msInKernelsMedian: median(samples.map((s) => s.attribution.kernelMs)),
    msInKernels: chosen.attribution.kernelMs,
    msOutsideKernels: chosen.ms - chosen.attribution.kernelMs,
    families: familyRows(chosen),
    methods: methodRows(chosen),
    parts: partRows(chosen, parts)
  }
}

const ms = (x: number): string => x.toFixed(x < 10 ? 2 : 1)
const percent = (x: number): string => `${(100 * x).toFixed(1)}%`

/** The profile as text: a heading, then the family and the part tables (aligned columns). */
export const formatStepProfile = (p: StepProfile): string => {
  const m = p.model
  const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const line = (cells: ReadonlyArray<string>) =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
    return [line(header), ...rows.map(line)]
  }
  return [
    `profile of one training step, ${p.backend}: llama V=${m.vocabSize} d=${m.dim} ${m.layers} layers ` +
    `${m.heads} heads f=${m.ffnDim} T=${m.seqLen} B=${p.batch} (${p.tokensPerStep} tokens/step)`,
    `median step of ${p.steps} after ${p.warmup} warm-up: ${ms(p.msPerStep)} ms profiled, ` +
    `${ms(p.msPerStepUnprofiled)} ms unprofiled; in kernels ${ms(p.msInKernels)} ms, ` +
    `outside kernels ${ms(p.msOutsideKernels)} ms (${percent(p.msOutsideKernels / p.msPerStep)})`,
    "",
    ...table(
      ["family", "ms/step", "share", "calls/step"],
      p.families.flatMap((r) => {
        const row = [r.family, ms(r.ms), percent(r.share), r.calls === 0 ? "" : String(r.calls)]
        // A family of several calls is followed by each of them, indented.
        const members = p.methods.filter((m) => m.family === r.family)
        if (members.length < 2) return [row]
        return [row, ...members.map((m) => [`  ${m.method}`, ms(m.ms), percent(m.share), String(m.calls)])]
      })
    ),
    "",
    ...table(
      ["part", "forward ms", "backward ms", "update ms", "total ms", "share", "calls/step"],
      p.parts.map((r) => [
        r.part,
        r.forwardMs === 0 ? "" : ms(r.forwardMs),
        r.backwardMs === 0 ? "" : ms(r.backwardMs),
        r.updateMs === 0 ? "" : ms(r.updateMs),
        ms(r.ms),
        percent(r.share),
        r.calls === 0 ? "" : String(r.calls)
      ])
    )
  ].join("\n")
}
