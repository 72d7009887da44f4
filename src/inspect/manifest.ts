/**
 * A checkpoint's manifest as reported: its files and tensors, and the stored configuration and
 * state summarized, each decoded on its own so that one undecodable part does not hide the rest.
 */
import { Effect, Result, Schema } from "effect"
import { CheckpointState } from "../checkpoint/checkpointState.ts"
import type { CheckpointStoreShape } from "../checkpoint/CheckpointStore.ts"
import { type ComponentFile, type ComponentName, componentNames, type Manifest } from "../checkpoint/manifest.ts"
import { decodeRunConfig } from "../config/loadConfig.ts"
import { lr, totalStepsOf } from "../optim/schedule.ts"
import { sizeOf } from "../tensor/tensor.ts"
import type { ComponentReport, ConfigSummary, ManifestReport, StateSummary } from "./InspectReport.ts"
import { lineageOf } from "./lineage.ts"

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
      batch: { ...c.batch, microBatches: c.batch.global / c.batch.micro },
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
  const g = s.data.geometry
  return {
    geometry: { ...g, accumulation: Math.ceil(g.global / g.micro / g.dp) },
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

/** One manifest as reported, with the lineage that leads to it. */
export const manifestReport = (store: CheckpointStoreShape, location: string, manifest: Manifest) =>
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
