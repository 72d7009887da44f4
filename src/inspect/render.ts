/** The inspect report as text. */
import { stepDirName } from "../checkpoint/layout.ts"
import { MANIFEST_FILE } from "../checkpoint/manifest.ts"
import { DEFAULT_WARMUP_RATIO, warmupStepsOf } from "../config/scheduleConfig.ts"
import { shapeString } from "../tensor/tensor.ts"
import type {
  CheckpointReport,
  ComponentReport,
  InspectReport,
  ManifestReport,
  RunReport,
  Verification
} from "./InspectReport.ts"
import type { LineageReport } from "./lineage.ts"

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
  const resolvedWarmup = warmupStepsOf(s, config.steps)
  const warmup = s.warmupSteps !== undefined
    ? `${s.warmupSteps}`
    : `${resolvedWarmup} (ratio ${Number((s.warmupRatio ?? DEFAULT_WARMUP_RATIO).toPrecision(6))})`
  const decay = s.kind === "constant"
    ? ""
    : s.decaySteps !== undefined
    ? ` · decay ${s.decaySteps} steps ${s.decayShape}`
    : ` · decay ratio ${s.decayRatio ?? 0.2} ${s.decayShape}`
  const optimizer = o.kind === "adamw"
    ? `adamw · lr ${rate(o.lr)} · betas ${o.betas[0]}/${o.betas[1]} · eps ${o.eps} · weight decay ${o.weightDecay}`
    : `sgd · lr ${rate(o.lr)} · momentum ${o.momentum}${
      o.nesterov ? " (nesterov)" : ""
    } · weight decay ${o.weightDecay}`
  return [
    "config",
    `  model      ${m.kind} · vocab ${m.vocabSize} · dim ${m.dim} · ${plural(m.layers, "layer")} · ${
      plural(m.heads, "head")
    } · ffn ${m.ffnDim} · seqLen ${m.seqLen}`,
    `  training   ${
      plural(config.steps, "step")
    } · seed ${config.seed} · data ${config.data.source} (validation ${config.data.valFraction})`,
    `  batch      ${b.global} samples/step = ${
      plural(b.microBatches, "micro-batch", "micro-batches")
    } of ${b.micro} · dp ${b.dp}`,
    `  optimizer  ${optimizer} · clip ${o.clipNorm}`,
    `  schedule   ${s.kind} · warm-up ${warmup}${decay} · floor ${s.kind === "constant" ? 1 : s.minLrFactor}×`
  ]
}

const renderState = (step: number, state: ManifestReport["state"]): Array<string> => {
  if ("error" in state) return ["state", `  cannot be decoded: ${state.error}`]
  return [
    "state",
    `  ranks      written by ${plural(state.geometry.dp, "rank")} · ${
      plural(state.geometry.accumulation, "micro-batch", "micro-batches")
    } per rank per step (micro ${state.geometry.micro})`,
    `  data       cursor ${count(state.dataCursor)} · samples seen ${count(state.samplesSeen)} · tokens seen ${
      count(state.tokensSeen)
    }`,
    `  optimizer  ${state.optimizerKind} · step ${count(state.optimizerStep)}`,
    `  schedule   ${state.scheduleForm} over ${plural(state.scheduleTotalSteps, "step")} · lr at step ${step}: ${
      rate(state.lrAtStep)
    }`,
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
    : [
      "verification",
      `  FAILED (${plural(v.problems.length, "problem")})`,
      ...v.problems.map((p) => `  ${p.file}: ${p.reason}: ${p.detail}`)
    ]

const renderCheckpoint = (r: CheckpointReport): Array<string> => {
  const out = [`checkpoint ${r.location}`]
  const m = r.manifest
  if (m === undefined) {
    out.push(`  step ${r.step} · manifest unreadable`)
  } else {
    out.push(`  step ${r.step} · run ${m.runId} · saved ${m.time}`)
    out.push(
      ...renderComponents(m.components),
      ...renderConfig(m.config),
      ...renderState(r.step, m.state),
      ...renderLineage(m.lineage)
    )
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
  for (const line of r.vanished ?? []) out.push(`  ${line}`)
  if (r.note !== undefined) out.push(r.note)
  if (r.latest !== undefined) {
    out.push(
      "",
      `latest${
        r.checkpoints.some((c) => c.verification !== undefined)
          ? " valid"
          : ""
      }:`,
      ...renderCheckpoint(r.latest)
    )
  }
  return out
}

/** The report as text. */
export const renderInspect = (report: InspectReport): string =>
  (report.kind === "checkpoint" ? renderCheckpoint(report) : renderRun(report)).join("\n")
