/**
 * A run whose checkpoints live in an S3-compatible bucket (`checkpoint.location`), with real
 * `bin/continuum` processes against a real server (s3rver on loopback). A run interrupted at
 * step 8 resumes with `--resume exact` from an empty run directory — everything it needs is in
 * the bucket — and ends bit-identical to an uninterrupted local run. A damaged object makes
 * `--resume auto` fall back to the previous checkpoint; a missing bucket is refused before any
 * step, in one line, with exit code 2.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { makeObjectStoreCheckpointStore } from "../../src/checkpoint/CheckpointStore.ts"
import { metricsFile } from "../../src/train/metricsLine.ts"
import { evalLines, stepLines } from "../support/metrics.ts"
import { type ObjectServer, startObjectServer } from "../support/objectServer.ts"
import { runCli } from "../support/processes.ts"
import { tempDir, tinyConfig, trainRun, writeTinyConfig } from "../support/tinyRun.ts"

const BUCKET = "runs"
let server: ObjectServer
let client: S3Client

beforeAll(async () => {
  server = await startObjectServer([BUCKET])
  client = new S3Client({ endpoint: server.endpoint, forcePathStyle: true, region: "us-east-1" })
})

afterAll(async () => {
  client.destroy()
  await server.stop()
})

/** The uninterrupted local run of the tiny configuration, computed once for the file. */
let reference: Promise<string> | undefined
const referenceRun = () =>
  reference ??= (async () => {
    const runDir = path.join(tempDir("continuum-s3-reference-"), "run")
    await Effect.runPromise(Effect.flatMap(tinyConfig(runDir), (c) => trainRun(c)))
    return runDir
  })()

/** A fresh run directory with the tiny configuration file next to it. */
const freshRun = () => {
  const dir = tempDir("continuum-s3-cli-")
  const runDir = path.join(dir, "run")
  return { runDir, config: writeTinyConfig(path.join(dir, "config.json"), runDir) }
}

const train = (config: string, location: string, ...more: Array<string>) =>
  runCli(["train", "--config", config, "--set", `checkpoint.location=${location}`, ...more])

const after = (step: number, lines: ReadonlyArray<Record<string, number>>) => lines.filter((l) => l.step > step)
const upTo = (step: number, lines: ReadonlyArray<Record<string, number>>) => lines.filter((l) => l.step <= step)

describe("train with checkpoint.location in an S3-compatible bucket", () => {
  it("--until 8, then --resume exact from an empty run directory, ends like an uninterrupted local run", async () => {
    const location = `s3://${BUCKET}/exact`
    const first = freshRun()
    const interrupted = await train(first.config, location, "--until", "8")
    assert.strictEqual(interrupted.code, 0, interrupted.stderr)
    assert.isFalse(fs.existsSync(path.join(first.runDir, "checkpoints")), "no checkpoint went to the run directory")
    assert.isTrue(fs.existsSync(metricsFile(first.runDir)), "metrics stay in the run directory")

    const second = freshRun()
    const resumed = await train(second.config, location, "--resume", "exact")
    assert.strictEqual(resumed.code, 0, resumed.stderr)

    const referenceDir = await referenceRun()
    assert.deepStrictEqual(upTo(8, stepLines(first.runDir)), upTo(8, stepLines(referenceDir)))
    assert.deepStrictEqual(after(8, stepLines(second.runDir)), after(8, stepLines(referenceDir)))
    assert.deepStrictEqual(after(8, evalLines(second.runDir)), after(8, evalLines(referenceDir)))
    assert.strictEqual(after(8, stepLines(second.runDir)).length, 4)
  })

  it("a tensor object re-uploaded with one byte changed is skipped by --resume auto", async () => {
    const location = `s3://${BUCKET}/auto`
    const first = freshRun()
    const full = await train(first.config, location)
    assert.strictEqual(full.code, 0, full.stderr)

    const key = "auto/step-00000012/model.safetensors"
    const bytes = await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!
      .transformToByteArray()
    bytes[bytes.length - 1] ^= 0x40
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes }))

    const report = await Effect.runPromise(
      Effect.scoped(Effect.flatMap(makeObjectStoreCheckpointStore(location), (store) => store.verify(12)))
    )
    assert.deepStrictEqual(report.problems.map((p) => [p.file, p.reason]), [["model.safetensors", "HashMismatch"]])
    const inspected = await runCli(["inspect", "--verify", `${location}/step-00000012`])
    assert.strictEqual(inspected.code, 1, inspected.stdout)
    assert.match(
      `${inspected.stdout}${inspected.stderr}`,
      /model\.safetensors.*HashMismatch|HashMismatch.*model\.safetensors/
    )
    const intact = await runCli(["inspect", "--verify", `${location}/step-00000008`])
    assert.strictEqual(intact.code, 0, intact.stderr)

    const second = freshRun()
    const resumed = await train(second.config, location, "--resume", "auto")
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.include(`${resumed.stdout}${resumed.stderr}`, "step-00000012")
    assert.include(resumed.stderr, `checkpoint step 12 → ${location}/step-00000012`)
    const referenceDir = await referenceRun()
    assert.deepStrictEqual(after(8, stepLines(second.runDir)), after(8, stepLines(referenceDir)))

    // The resumed run saved step 12 again, whole.
    const latest = await Effect.runPromise(
      Effect.scoped(Effect.flatMap(makeObjectStoreCheckpointStore(location), (store) => store.latestValid))
    )
    assert.strictEqual(Option.getOrThrow(latest.latest).step, 12)
    assert.deepStrictEqual(latest.skipped, [])
  })

  it("a missing bucket exits 2 with one line before any step", async () => {
    const run = freshRun()
    const refused = await train(run.config, "s3://no-such-bucket/run")
    assert.strictEqual(refused.code, 2, refused.stderr)
    const lines = `${refused.stdout}${refused.stderr}`.trim().split("\n")
    assert.strictEqual(lines.length, 1, lines.join("\n"))
    assert.include(lines[0], "no-such-bucket")
    assert.isFalse(fs.existsSync(metricsFile(run.runDir)), "no step ran")
  })

  it("a location with a .. segment is refused with the configuration, exit 2", async () => {
    const run = freshRun()
    const refused = await train(run.config, `s3://${BUCKET}/runs/../other`)
    assert.strictEqual(refused.code, 2, refused.stderr)
    const lines = `${refused.stdout}${refused.stderr}`.trim().split("\n")
    assert.strictEqual(lines.length, 1, lines.join("\n"))
    assert.include(lines[0], "checkpoint.location")
    assert.include(lines[0], "..")
  })
})
