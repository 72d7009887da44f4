import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { stepDirName } from "../../src/checkpoint/layout.ts"
import { decodeSafetensors } from "../../src/checkpoint/safetensors.ts"
import { type ExportArgs, exportCheckpoint } from "../../src/cli/handlers/export.ts"
import type { Tensor } from "../../src/tensor/tensor.ts"
import { withStore } from "../support/checkpoints.ts"
import { tempDir, tinyConfig, trainRun } from "../support/tinyRun.ts"

/** Trained once for the file: 8 steps, checkpoints 4 and 8; `params` are the weights after step 8. */
let trained: { runDir: string; params: Record<string, Tensor> } | undefined
const trainedRun = Effect.gen(function*() {
  if (trained !== undefined) return trained
  const runDir = path.join(tempDir(), "run")
  const result = yield* trainRun(yield* tinyConfig(runDir, { steps: 8 }))
  trained = { runDir, params: result.params }
  return trained
})

/** The typed failure of an exit, or undefined. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason === undefined ? undefined : (reason as { readonly error: E }).error
}

const run = (args: ExportArgs) => exportCheckpoint(args).pipe(Effect.provide(NodeServices.layer))

const ckpt = (runDir: string, step: number) => path.join(runDir, "checkpoints", stepDirName(step))

const decodeFile = (file: string) => {
  const decoded = decodeSafetensors(new Uint8Array(fs.readFileSync(file)), { file })
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

const bits = (data: ArrayLike<number>) => new Uint32Array(Float32Array.from(data).buffer)

/** The standard safetensors header of a file, parsed by hand rather than by our decoder. */
const rawHeader = (file: string) => {
  const bytes = fs.readFileSync(file)
  const length = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString("utf8")) as Record<string, unknown>
  return { length, header, dataBytes: bytes.length - 8 - length }
}

const pythonCheck = spawnSync("python3", ["-c", "import safetensors.torch, torch"], { encoding: "utf8" })
const pythonReady = pythonCheck.status === 0
if (!pythonReady) {
  console.log(
    `skipping the PyTorch load check: python3 with safetensors and torch is not importable here ` +
      `(${pythonCheck.error?.message ?? pythonCheck.stderr.trim().split("\n").pop()})`
  )
}

describe("export", () => {
  it.effect("f32 round-trips bit-exactly: the file holds exactly the checkpoint's model weights", () =>
    Effect.gen(function*() {
      const { runDir, params } = yield* trainedRun
      const out = path.join(tempDir(), "weights.safetensors")
      const result = yield* run({ dir: ckpt(runDir, 8), out, dtype: "f32" })
      assert.deepInclude(result, { step: 8, tensors: 12, dtype: "f32", bytes: fs.statSync(out).size })
      const decoded = decodeFile(out)
      assert.deepStrictEqual(Object.keys(decoded.tensors).sort(), Object.keys(params).sort())
      for (const [name, tensor] of Object.entries(params)) {
        assert.deepStrictEqual(decoded.tensors[name]!.shape, tensor.shape, name)
        assert.deepStrictEqual(bits(decoded.tensors[name]!.data), bits(tensor.data), name)
      }
      assert.strictEqual(result.parameters, Object.values(params).reduce((n, t) => n + t.data.length, 0))
      assert.deepStrictEqual(fs.readdirSync(path.dirname(out)), ["weights.safetensors"], "no temporary file is left")
    }))

  it.effect("the header is standard: u64 LE length, then JSON with dtype, shape and data_offsets", () =>
    Effect.gen(function*() {
      const { runDir, params } = yield* trainedRun
      for (const [dtype, stored, width] of [["f32", "F32", 4], ["f16", "F16", 2], ["bf16", "BF16", 2]] as const) {
        const out = path.join(tempDir(), `w-${dtype}.safetensors`)
        yield* run({ dir: ckpt(runDir, 8), out, dtype })
        const { length, header, dataBytes } = rawHeader(out)
        assert.strictEqual((8 + length) % 8, 0, "the data section starts 8-byte aligned")
        assert.deepStrictEqual(header["__metadata__"], { format: "pt" })
        let covered = 0
        for (const [name, tensor] of Object.entries(params)) {
          const entry = header[name] as { dtype: string; shape: Array<number>; data_offsets: [number, number] }
          assert.deepStrictEqual(Object.keys(entry).sort(), ["data_offsets", "dtype", "shape"])
          assert.strictEqual(entry.dtype, stored)
          assert.deepStrictEqual(entry.shape, [...tensor.shape])
          assert.strictEqual(entry.data_offsets[1] - entry.data_offsets[0], tensor.data.length * width)
          covered += entry.data_offsets[1] - entry.data_offsets[0]
        }
        assert.strictEqual(Object.keys(header).length, Object.keys(params).length + 1)
        assert.strictEqual(covered, dataBytes)
      }
    }))

  it.effect("f16 and bf16 hold the weights within their precision", () =>
    Effect.gen(function*() {
      const { runDir, params } = yield* trainedRun
      // Round to nearest: relative error ≤ 2^-11 (f16) and 2^-8 (bf16); f16 subnormals lose more.
      for (const [dtype, relative, absolute] of [["f16", 2 ** -11, 2 ** -25], ["bf16", 2 ** -8, 0]] as const) {
        const out = path.join(tempDir(), `w.${dtype}.safetensors`)
        yield* run({ dir: runDir, out, dtype })
        const decoded = decodeFile(out)
        let changed = 0
        const outside: Array<string> = []
        for (const [name, tensor] of Object.entries(params)) {
          const got = decoded.tensors[name]!.data
          for (let i = 0; i < tensor.data.length; i++) {
            const want = tensor.data[i]!
            const error = Math.abs(got[i]! - want)
            if (error > 0) changed++
            if (error > Math.abs(want) * relative + absolute) outside.push(`${name}[${i}]: ${got[i]} vs ${want}`)
          }
        }
        assert.deepStrictEqual(outside.slice(0, 5), [], `${dtype}: ${outside.length} values outside the rounding bound`)
        assert.isAbove(changed, 0, `${dtype} rounds some weights (it is not f32 in disguise)`)
      }
    }))

  it.effect("a damaged model file is refused and nothing is written; an existing output is replaced whole", () =>
    Effect.gen(function*() {
      const runDir = path.join(tempDir(), "run")
      yield* trainRun(yield* tinyConfig(runDir, { steps: 4 }))
      const outDir = tempDir()
      const out = path.join(outDir, "w.safetensors")
      fs.writeFileSync(out, "old content")
      yield* run({ dir: runDir, out, dtype: "f32" })
      assert.strictEqual(decodeFile(out).header.entries.length, 12)

      const model = path.join(ckpt(runDir, 4), "model.safetensors")
      const bytes = fs.readFileSync(model)
      bytes[100] ^= 0x01
      fs.writeFileSync(model, bytes)
      const second = path.join(outDir, "second.safetensors")
      const corrupt = failureOf(yield* Effect.exit(run({ dir: ckpt(runDir, 4), out: second, dtype: "f32" })))
      assert.deepInclude(corrupt, { _tag: "CheckpointCorrupt", file: "model.safetensors", reason: "HashMismatch" })
      assert.deepStrictEqual(fs.readdirSync(outDir), ["w.safetensors"])

      const unwritable = path.join(outDir, "missing", "w.safetensors")
      const noDir = failureOf(
        yield* Effect.exit(run({ dir: ckpt((yield* trainedRun).runDir, 8), out: unwritable, dtype: "f32" }))
      )
      assert.deepInclude(noDir, { _tag: "ExportFailed", path: unwritable })
    }))

  it.effect.skipIf(!pythonReady)(
    "the file loads in PyTorch with safetensors.torch.load_file",
    () =>
      Effect.gen(function*() {
        const { runDir, params } = yield* trainedRun
        const out = path.join(tempDir(), "w.safetensors")
        yield* run({ dir: runDir, out, dtype: "f32" })
        const script = [
          "import json, sys",
          "from safetensors.torch import load_file",
          "t = load_file(sys.argv[1])",
          "print(json.dumps({k: [list(v.shape), str(v.dtype), float(v.double().sum())] for k, v in t.items()}))"
        ].join("\n")
        const py = spawnSync("python3", ["-c", script, out], { encoding: "utf8" })
        assert.strictEqual(py.status, 0, py.stderr)
        const loaded = JSON.parse(py.stdout) as Record<string, [Array<number>, string, number]>
        for (const [name, tensor] of Object.entries(params)) {
          const [shape, dtype, sum] = loaded[name]!
          assert.deepStrictEqual(shape, [...tensor.shape])
          assert.strictEqual(dtype, "torch.float32")
          assert.closeTo(sum, Array.from(tensor.data).reduce((a, b) => a + b, 0), 1e-6)
        }
      })
  )
})

describe("bin/continuum export", () => {
  it.effect("writes the file and exits 0", () =>
    Effect.gen(function*() {
      const { runDir, params } = yield* trainedRun
      const out = path.join(tempDir(), "cli.safetensors")
      const cli = spawnSync(
        process.execPath,
        [path.join(process.cwd(), "bin", "continuum"), "export", ckpt(runDir, 8), "--out", out, "--dtype", "bf16"],
        { encoding: "utf8" }
      )
      assert.strictEqual(cli.status, 0, cli.stderr)
      assert.include(cli.stdout, "as bf16")
      assert.strictEqual(decodeFile(out).header.entries[0]!.dtype, "BF16")
      assert.strictEqual(decodeFile(out).header.entries.length, Object.keys(params).length)
    }))

  it.effect("refuses an output inside a checkpoint directory, also through a symlink: exit 2, nothing written", () =>
    Effect.gen(function*() {
      const { runDir } = yield* trainedRun
      const checkpoint = ckpt(runDir, 8)
      const dir = tempDir()
      const linkedDir = path.join(dir, "linked")
      fs.symlinkSync(checkpoint, linkedDir)
      const linkedFile = path.join(dir, "model-link.safetensors")
      fs.symlinkSync(path.join(checkpoint, "model.safetensors"), linkedFile)
      const copy = path.join(dir, "copied-checkpoint")
      fs.cpSync(checkpoint, copy, { recursive: true })
      const contents = (d: string) =>
        fs.readdirSync(d).sort().map((name) => `${name}:${fs.readFileSync(path.join(d, name)).toString("base64")}`)
      const before = { checkpoint: contents(checkpoint), older: contents(ckpt(runDir, 4)), copy: contents(copy) }
      const outs = [
        path.join(checkpoint, "model.safetensors"),
        path.join(checkpoint, "manifest.json"),
        path.join(checkpoint, "weights.safetensors"),
        path.join(ckpt(runDir, 4), "model.safetensors"),
        path.join(linkedDir, "model.safetensors"),
        linkedFile,
        path.join(copy, "model.safetensors")
      ]
      for (const out of outs) {
        const cli = spawnSync(
          process.execPath,
          [path.join(process.cwd(), "bin", "continuum"), "export", checkpoint, "--out", out],
          { encoding: "utf8" }
        )
        assert.strictEqual(cli.status, 2, `${out}: ${cli.stderr}`)
        assert.strictEqual(
          cli.stderr,
          `error: ExportIntoCheckpoint: cannot export to ${out}: it lies in the checkpoint directory ${
            // Named by its real path (a temporary directory may itself sit behind a symlink).
            fs.realpathSync(
              out.startsWith(copy) ? copy : out.includes("step-00000004") ? ckpt(runDir, 4) : checkpoint
            )}, which the export would damage; choose a path outside every checkpoint directory\n`
        )
      }
      assert.deepStrictEqual(
        { checkpoint: contents(checkpoint), older: contents(ckpt(runDir, 4)), copy: contents(copy) },
        before
      )
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["copied-checkpoint", "linked", "model-link.safetensors"])
      for (const step of [4, 8]) {
        const report = yield* Effect.promise(() => withStore(runDir, (store) => store.verify(step)))
        assert.deepStrictEqual(report.problems, [])
      }
    }))
})
