import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { TestConsole } from "effect/testing"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { stepDirName } from "../../src/checkpoint/layout.ts"
import {
  type CheckpointReport,
  inspect,
  type InspectArgs,
  inspectReport,
  type ManifestReport,
  renderInspect,
  type RunReport,
  type StateSummary,
  VerificationFailed
} from "../../src/cli/handlers/inspect.ts"
import { lr } from "../../src/optim/schedule.ts"
import { plannedStartLayer } from "../../src/resume/plannedStart.ts"
import { presets } from "../../src/resume/policy.ts"
import { tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

const ckpt = (runDir: string, step: number) => path.join(runDir, "checkpoints", stepDirName(step))

/**
 * A lineage in one run directory: run A trains 12 steps (checkpoints 4, 8, 12), then run B
 * continues it to 16 steps with the `continue` policy (checkpoint 16, parent = A's step 12).
 */
const lineageRun = Effect.gen(function*() {
  const runDir = path.join(tempDir(), "run")
  yield* trainRun(yield* tinyConfig(runDir))
  yield* trainRun(yield* tinyConfig(runDir, { steps: 16 }), plannedStartLayer(presets.continue, undefined))
  return runDir
})

const report = (args: Pick<InspectArgs, "dir" | "verify">) =>
  inspectReport(args).pipe(Effect.provide(NodeServices.layer))

const details = (r: CheckpointReport): ManifestReport => {
  assert.isDefined(r.manifest)
  return r.manifest!
}

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason === undefined ? undefined : (reason as { readonly error: E }).error
}

const flipLastByte = (file: string) => {
  const bytes = fs.readFileSync(file)
  bytes[bytes.length - 1] ^= 0x40
  fs.writeFileSync(file, bytes)
}

describe("inspect a checkpoint", () => {
  it.effect("names components, tensors, configuration, state and the lineage through a continue resume", () =>
    Effect.gen(function*() {
      const runDir = yield* lineageRun
      const r = yield* report({ dir: ckpt(runDir, 16), verify: false })
      assert.strictEqual(r.kind, "checkpoint")
      const c = r as CheckpointReport
      const m = details(c)
      assert.strictEqual(c.step, 16)
      assert.isUndefined(c.verification)

      // Components: files, sizes, hashes and tensors, as the manifest lists them.
      const manifest = JSON.parse(fs.readFileSync(path.join(ckpt(runDir, 16), "manifest.json"), "utf8"))
      assert.deepStrictEqual(m.components.map((x) => x.component), ["model", "optimizer"])
      const model = m.components[0]!
      assert.strictEqual(model.file, "model.safetensors")
      assert.strictEqual(model.bytes, fs.statSync(path.join(ckpt(runDir, 16), "model.safetensors")).size)
      assert.strictEqual(model.sha256, manifest.components.model.sha256)
      assert.strictEqual(model.tensorCount, 12)
      const embedding = model.tensors.find((t) => t.name === "tok_embeddings.weight")
      assert.deepStrictEqual(embedding, { name: "tok_embeddings.weight", shape: [256, 16], parameters: 4096 })
      // 1-layer llama, d 16, f 32, V 256: 2·V·d + 4·d² + 3·d·f + 3·d
      assert.strictEqual(model.parameters, 2 * 256 * 16 + 4 * 16 * 16 + 3 * 16 * 32 + 3 * 16)

      // Configuration and state of the continued run.
      assert.notProperty(m.config, "error")
      const config = m.config as Exclude<ManifestReport["config"], { error: string }>
      assert.strictEqual(config.steps, 16)
      assert.deepInclude(config.model, { kind: "llama", dim: 16, layers: 1, heads: 2, ffnDim: 32, seqLen: 16 })
      assert.deepStrictEqual(config.batch, { global: 4, micro: 2, dp: 1, microBatches: 2 })
      const state = m.state as StateSummary
      assert.deepInclude(state, {
        dataCursor: 64,
        samplesSeen: 64,
        tokensSeen: 64 * 16,
        optimizerStep: 16,
        scheduleForm: "spliced"
      })
      assert.strictEqual(state.lrAtStep, lr(manifest.state.schedule, 16))

      // Lineage: this checkpoint ← (continue) step 12 of the first run, which started fresh.
      assert.isDefined(m.parent)
      assert.strictEqual(m.parent!.policy, "continue")
      const [self, parent, ...rest] = m.lineage.chain
      assert.deepInclude(self, { step: 16, runId: m.runId, resumedWith: "continue" })
      assert.deepInclude(parent, { step: 12, runId: m.parent!.runId, location: ckpt(runDir, 12) })
      assert.notStrictEqual(parent!.runId, self!.runId)
      assert.isUndefined(parent!.resumedWith)
      assert.lengthOf(rest, 0)
      assert.deepStrictEqual(m.lineage.end, { kind: "origin" })

      const text = renderInspect(r)
      for (
        const needle of [
          "model.safetensors",
          "optimizer.safetensors",
          model.sha256,
          "12 tensors",
          "llama",
          "16 steps",
          "cursor 64",
          `lr at step 16`,
          "resumed with continue from",
          `step 12 of run ${parent!.runId}`,
          "started fresh"
        ]
      ) assert.include(text, needle)
      assert.match(text, /tok_embeddings\.weight +\[256, 16\]/)
    }))

  it.effect("a parent that is not in the checkpoints directory ends the lineage, and says so", () =>
    Effect.gen(function*() {
      const runDir = yield* lineageRun
      fs.rmSync(ckpt(runDir, 12), { recursive: true })
      const m = details((yield* report({ dir: ckpt(runDir, 16), verify: false })) as CheckpointReport)
      assert.lengthOf(m.lineage.chain, 1)
      assert.strictEqual(m.lineage.end.kind, "unresolved")
      const end = m.lineage.end as Extract<ManifestReport["lineage"]["end"], { kind: "unresolved" }>
      assert.deepInclude(end.parent, { step: 12, policy: "continue" })
      assert.include(end.reason, "no step-00000012 in")
      assert.include(renderInspect(yield* report({ dir: ckpt(runDir, 16), verify: false })), "lineage ends here")
    }))

  it.effect("--verify reports a flipped byte in model.safetensors by file name and fails", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      yield* trainRun(yield* tinyConfig(runDir, { steps: 4 }))
      const dir = ckpt(runDir, 4)
      const clean = (yield* report({ dir, verify: true })) as CheckpointReport
      assert.deepStrictEqual(clean.verification, { ok: true, problems: [] })

      flipLastByte(path.join(dir, "model.safetensors"))
      const damaged = (yield* report({ dir, verify: true })) as CheckpointReport
      assert.isFalse(damaged.verification!.ok)
      assert.deepStrictEqual(damaged.verification!.problems.map((p) => [p.file, p.reason]), [[
        "model.safetensors",
        "HashMismatch"
      ]])
      assert.isDefined(damaged.manifest, "the manifest still reads, so the details are shown")

      const exit = yield* Effect.exit(
        inspect({ dir, verify: true, json: false }).pipe(Effect.provide(NodeServices.layer))
      )
      const error = failureOf(exit)
      assert.instanceOf(error, VerificationFailed)
      assert.include((error as VerificationFailed).message, "model.safetensors: HashMismatch")
      const printed = (yield* TestConsole.logLines).join("\n")
      assert.include(printed, "FAILED (1 problem)")
      assert.include(printed, "model.safetensors: HashMismatch")

      // Without --verify nothing is hashed and the command succeeds.
      const plain = yield* Effect.exit(
        inspect({ dir, verify: false, json: false }).pipe(Effect.provide(NodeServices.layer))
      )
      assert.isTrue(Exit.isSuccess(plain))
    }))

  it.effect("an unreadable manifest is a verification problem with --verify and an error without", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      yield* trainRun(yield* tinyConfig(runDir, { steps: 4 }))
      const dir = ckpt(runDir, 4)
      fs.writeFileSync(path.join(dir, "manifest.json"), "{ not json")
      const verified = (yield* report({ dir, verify: true })) as CheckpointReport
      assert.isUndefined(verified.manifest)
      assert.deepStrictEqual(verified.verification!.problems.map((p) => [p.file, p.reason]), [[
        "manifest.json",
        "InvalidManifest"
      ]])
      const plain = yield* Effect.exit(report({ dir, verify: false }))
      assert.strictEqual((failureOf(plain) as { _tag: string })._tag, "CheckpointCorrupt")
    }))

  it.effect("--json prints one JSON object with the same report", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      yield* trainRun(yield* tinyConfig(runDir, { steps: 4 }))
      yield* inspect({ dir: ckpt(runDir, 4), verify: true, json: true }).pipe(Effect.provide(NodeServices.layer))
      const lines = yield* TestConsole.logLines
      assert.lengthOf(lines, 1)
      const parsed = JSON.parse(String(lines[0]))
      assert.deepStrictEqual(parsed, JSON.parse(JSON.stringify(yield* report({ dir: ckpt(runDir, 4), verify: true }))))
      assert.strictEqual(parsed.kind, "checkpoint")
      assert.strictEqual(parsed.verification.ok, true)
      assert.strictEqual(parsed.manifest.components[0].tensors[0].name, "layers.0.attention.wk.weight")
    }))
})

describe("inspect a run directory", () => {
  it.effect("lists checkpoints newest first and shows the latest; --verify marks which verify", () =>
    Effect.gen(function*() {
      const runDir = yield* lineageRun
      const listed = (yield* report({ dir: runDir, verify: false })) as RunReport
      assert.strictEqual(listed.kind, "run")
      assert.deepStrictEqual(listed.checkpoints.map((c) => c.step), [16, 12, 8, 4])
      assert.strictEqual(listed.latest!.step, 16)
      const viaCheckpointsDir = (yield* report({ dir: path.join(runDir, "checkpoints"), verify: false })) as RunReport
      assert.deepStrictEqual(
        viaCheckpointsDir.checkpoints.map((c) => c.step),
        [16, 12, 8, 4],
        "checkpoints/ stands for its run"
      )

      flipLastByte(path.join(ckpt(runDir, 16), "optimizer.safetensors"))
      const verified = (yield* report({ dir: runDir, verify: true })) as RunReport
      assert.deepStrictEqual(verified.checkpoints.map((c) => c.verification!.ok), [false, true, true, true])
      assert.strictEqual(verified.latest!.step, 12, "the latest valid checkpoint is shown")
      assert.include(verified.note!, "step-00000016 (fails verification)")
      const text = renderInspect(verified)
      assert.include(text, "step-00000016  FAILS: optimizer.safetensors: HashMismatch")
      assert.include(text, "step-00000012  valid")

      const exit = yield* Effect.exit(
        inspect({ dir: runDir, verify: true, json: false }).pipe(Effect.provide(NodeServices.layer))
      )
      assert.instanceOf(failureOf(exit), VerificationFailed)
    }))

  it.effect("an empty run directory has no checkpoints; a missing path is a typed error", () =>
    Effect.gen(function*() {
      const empty = tempDir()
      const r = (yield* report({ dir: empty, verify: true })) as RunReport
      assert.lengthOf(r.checkpoints, 0)
      assert.isUndefined(r.latest)
      assert.include(r.note!, "no checkpoints")
      const missing = yield* Effect.exit(report({ dir: path.join(empty, "nowhere"), verify: false }))
      assert.strictEqual((failureOf(missing) as { _tag: string })._tag, "CheckpointPathInvalid")
    }))
})

describe("bin/continuum inspect", () => {
  it.effect("prints the checkpoint and exits 0; exits 1 naming the damaged file with --verify", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      yield* trainRun(yield* tinyConfig(runDir, { steps: 4, batch: { dp: 2 } }))
      const cli = (...args: Array<string>) =>
        spawnSync(process.execPath, [path.join(process.cwd(), "bin", "continuum"), "inspect", ...args], {
          encoding: "utf8"
        })
      const ok = cli(ckpt(runDir, 4), "--verify")
      assert.strictEqual(ok.status, 0, ok.stderr)
      assert.include(ok.stdout, "model.safetensors")
      assert.include(ok.stdout, "verification")
      // The geometry the checkpoint was written with: two ranks, one micro-batch of 2 each.
      assert.include(ok.stdout, "ranks      written by 2 ranks · 1 micro-batch per rank per step (micro 2)")
      assert.include(ok.stdout, "batch      4 samples/step = 2 micro-batches of 2 · dp 2")

      flipLastByte(path.join(ckpt(runDir, 4), "model.safetensors"))
      const bad = cli(runDir, "--verify")
      assert.strictEqual(bad.status, 1)
      assert.include(bad.stdout, "FAILS: model.safetensors: HashMismatch")
      assert.include(bad.stderr, "VerificationFailed")
    }))

  it.effect("exits 1 naming manifest.json when one digit of the manifest changed and it is still valid JSON", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      yield* trainRun(yield* tinyConfig(runDir, { steps: 4 }))
      const file = path.join(ckpt(runDir, 4), "manifest.json")
      const text = fs.readFileSync(file, "utf8")
      const cursor = /"cursor": (\d+)/.exec(text)!
      const edited = text.replace(cursor[0], `"cursor": ${Number(cursor[1]) + 1}`)
      assert.notStrictEqual(edited, text)
      JSON.parse(edited)
      fs.writeFileSync(file, edited)
      const bad = spawnSync(
        process.execPath,
        [path.join(process.cwd(), "bin", "continuum"), "inspect", ckpt(runDir, 4), "--verify"],
        { encoding: "utf8" }
      )
      assert.strictEqual(bad.status, 1, bad.stderr)
      assert.include(bad.stdout, "manifest.json: HashMismatch: the content's digest is sha256:")
      assert.include(bad.stderr, "VerificationFailed")
      assert.include(bad.stderr, "manifest.json")
    }))
})
