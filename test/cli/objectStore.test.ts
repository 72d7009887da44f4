/**
 * A run whose checkpoints live in an S3-compatible bucket (`checkpoint.location`), with real
 * `bin/continuum` processes against a real server (s3rver on loopback). A run interrupted at
 * step 8 resumes with `--resume exact` from an empty run directory — everything it needs is in
 * the bucket — and ends bit-identical to an uninterrupted local run, metrics and weights; so does
 * a run started `--from s3://…/step-N`, and export and sample read the same bits from the bucket.
 * A damaged object makes `--resume auto` fall back to the previous checkpoint. A trainer killed in
 * the middle of a multipart upload, or a server that goes down in the middle of a save, leaves
 * every committed checkpoint whole and none half-written. A missing bucket, refused credentials and
 * hostile listings are refused before any step, in one line, with exit code 2.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { makeObjectStoreCheckpointStore } from "../../src/checkpoint/CheckpointStore.ts"
import { stepDirName } from "../../src/checkpoint/layout.ts"
import { metricsFile } from "../../src/train/metricsLine.ts"
import { evalLines, stepLines } from "../support/metrics.ts"
import { type ObjectServer, startObjectServer } from "../support/objectServer.ts"
import { finished, runCli, spawnCli } from "../support/processes.ts"
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

/** The bytes of a tensor file of a checkpoint in the bucket. */
const objectBytes = async (key: string): Promise<Uint8Array> =>
  (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray()

/** The bytes of a tensor file of the reference run's local checkpoint. */
const referenceBytes = async (step: number, file: string): Promise<Uint8Array> =>
  new Uint8Array(fs.readFileSync(path.join(await referenceRun(), "checkpoints", stepDirName(step), file)))

/** The committed checkpoints of a location, newest first, and whether each verifies. */
const committed = (location: string) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const store = yield* makeObjectStoreCheckpointStore(location, { cleanOnStart: false })
    const steps: Array<[number, boolean]> = []
    for (const { step } of yield* store.list) steps.push([step, (yield* store.verify(step)).problems.length === 0])
    return steps
  })))

/** Asserts a refusal: exit 2, one line of output that includes every `parts`. */
const assertRefused = (result: { code: number | null; stdout: string; stderr: string }, ...parts: Array<string>) => {
  assert.strictEqual(result.code, 2, `${result.stdout}${result.stderr}`)
  const lines = `${result.stdout}${result.stderr}`.trim().split("\n")
  assert.strictEqual(lines.length, 1, lines.join("\n"))
  for (const part of parts) assert.include(lines[0], part)
}

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
    // The weights and optimizer state it ends with are the uninterrupted run's, bit for bit.
    for (const file of ["model.safetensors", "optimizer.safetensors"]) {
      assert.deepStrictEqual(await objectBytes(`exact/step-00000012/${file}`), await referenceBytes(12, file), file)
    }
  })

  it("--from s3://…/step-8 into a fresh local run; plan, export and sample read the bucket", async () => {
    const location = `s3://${BUCKET}/from`
    const first = freshRun()
    const interrupted = await train(first.config, location, "--until", "8")
    assert.strictEqual(interrupted.code, 0, interrupted.stderr)
    const checkpoint = `${location}/step-00000008`

    const planned = await runCli(["plan", "--config", freshRun().config, "--resume", "exact", "--from", checkpoint])
    assert.strictEqual(planned.code, 0, planned.stderr)
    assert.include(planned.stdout, checkpoint)

    // No checkpoint.location: the resumed run reads the bucket once and checkpoints locally.
    const second = freshRun()
    const resumed = await runCli(["train", "--config", second.config, "--resume", "exact", "--from", checkpoint])
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    const referenceDir = await referenceRun()
    assert.deepStrictEqual(after(8, stepLines(second.runDir)), after(8, stepLines(referenceDir)))
    assert.deepStrictEqual(after(8, evalLines(second.runDir)), after(8, evalLines(referenceDir)))
    for (const file of ["model.safetensors", "optimizer.safetensors"]) {
      const local = new Uint8Array(fs.readFileSync(path.join(second.runDir, "checkpoints", stepDirName(12), file)))
      assert.deepStrictEqual(local, await referenceBytes(12, file), file)
    }
    // The location the checkpoint recorded is not inherited: the other run's history is untouched.
    assert.deepStrictEqual(await committed(location), [[8, true], [4, true]])

    const out = path.join(tempDir("continuum-s3-export-"), "weights.safetensors")
    const exported = await runCli(["export", checkpoint, "--out", out])
    assert.strictEqual(exported.code, 0, exported.stderr)
    const expectedOut = `${out}.reference`
    const local = await runCli(["export", path.join(referenceDir, "checkpoints", stepDirName(8)), "--out", expectedOut])
    assert.strictEqual(local.code, 0, local.stderr)
    assert.deepStrictEqual(fs.readFileSync(out), fs.readFileSync(expectedOut))

    // The run location stands for its latest valid checkpoint, step 8.
    const sampleArgs = ["--prompt", "Call me", "--temperature", "0", "--tokens", "24"]
    const sampled = await runCli(["sample", location, ...sampleArgs])
    assert.strictEqual(sampled.code, 0, sampled.stderr)
    assert.include(sampled.stderr, checkpoint)
    const sampledLocal = await runCli(["sample", path.join(referenceDir, "checkpoints", stepDirName(8)), ...sampleArgs])
    assert.strictEqual(sampledLocal.stdout, sampled.stdout)

    const listed = await runCli(["inspect", "--verify", location])
    assert.strictEqual(listed.code, 0, listed.stderr)
    assert.include(listed.stdout, "step-00000008")

    // Metrics never go to the bucket: report says where they are instead of charting nothing.
    const report = await runCli(["report", location])
    assert.strictEqual(report.code, 1)
    assert.include(report.stderr, "run directory")
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

  it("a server that goes down in the middle of a save fails the run with the object named; --resume auto goes on", async () => {
    const location = `s3://${BUCKET}/down`
    const first = freshRun()
    // The first upload of step 8's checkpoint finds the server gone; its retries find it still down.
    server.watchRequests((request) =>
      request.method === "PUT" && request.url!.includes("/down/step-00000008/") ? "stop" : "pass"
    )
    const failed = await train(first.config, location).finally(() => server.resume())
    assert.strictEqual(failed.code, 1, failed.stderr)
    const lines = failed.stderr.trim().split("\n").filter((line) => line.startsWith("error:"))
    assert.strictEqual(lines.length, 1, failed.stderr)
    assert.include(lines[0], "CheckpointIoError")
    assert.include(lines[0], `${location}/step-00000008/`)
    assert.deepStrictEqual(await committed(location), [[4, true]])

    const second = freshRun()
    const resumed = await train(second.config, location, "--resume", "auto")
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.include(resumed.stderr, "step-00000004")
    assert.deepStrictEqual(after(4, stepLines(second.runDir)), after(4, stepLines(await referenceRun())))
    assert.deepStrictEqual(await committed(location), [[12, true], [8, true], [4, true]])
  })

  it("a trainer SIGKILLed in the middle of a multipart upload commits nothing partial; --resume auto goes on", async () => {
    const location = `s3://${BUCKET}/killed`
    // A model whose weights file (about 10.7 MB) is above the 8 MiB part size: saved in parts.
    const large = [
      "model.dim=256",
      "model.layers=3",
      "model.heads=4",
      "model.ffnDim=768",
      "steps=4",
      "checkpoint.every=2",
      "eval.every=0"
    ].flatMap((set) => ["--set", set])
    const first = freshRun()
    let child: ChildProcess | undefined
    let killedAt: string | undefined
    server.watchRequests((request) => {
      if (
        killedAt === undefined && request.url!.includes("/killed/step-00000004/") &&
        request.url!.includes("partNumber=")
      ) {
        killedAt = request.url
        child!.kill("SIGKILL")
      }
      return "pass"
    })
    child = spawnCli(["train", "--config", first.config, "--set", `checkpoint.location=${location}`, ...large])
    const killed = await finished(child)
    server.watchRequests(() => "pass")
    assert.strictEqual(killed.signal, "SIGKILL", `${killed.stdout}${killed.stderr}`)
    assert.isDefined(killedAt, "killed during a part upload of step 4")
    assert.deepStrictEqual(await committed(location), [[2, true]])

    const second = freshRun()
    const resumed = await train(second.config, location, "--resume", "auto", ...large)
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.include(resumed.stderr, "step-00000002")
    assert.deepStrictEqual(await committed(location), [[4, true], [2, true]])
  })

  it("refused credentials exit 2 with one line before any step", async () => {
    const run = freshRun()
    const saved = process.env["AWS_ACCESS_KEY_ID"]
    process.env["AWS_ACCESS_KEY_ID"] = "NOT-A-KEY"
    const refused = await train(run.config, `s3://${BUCKET}/credentials`).finally(() => {
      process.env["AWS_ACCESS_KEY_ID"] = saved
    })
    assertRefused(refused, "denied", "AWS_ACCESS_KEY_ID")
    assert.isFalse(fs.existsSync(metricsFile(run.runDir)), "no step ran")
  })

  it("hostile listings are refused with exit 2 before any step, and nothing is deleted", async () => {
    const bucketDir = path.join(server.directory, BUCKET)
    const model = await referenceBytes(4, "model.safetensors")
    // A key with a ".." segment, as a broken or hostile server may list (s3rver stores keys as paths).
    const dots = path.join(bucketDir, "dots", "step-00000004")
    fs.mkdirSync(dots, { recursive: true })
    fs.writeFileSync(path.join(dots, "..._S3rver_object"), model)
    // An object that claims 6 TiB, more than S3 holds (a sparse file: nothing is written).
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "huge/step-00000004/model.safetensors", Body: model })
    )
    fs.truncateSync(path.join(bucketDir, "huge", "step-00000004", "model.safetensors._S3rver_object"), 6 * 1024 ** 4)

    for (const [prefix, detail] of [["dots", `".." segment`], ["huge", "6597069766656 bytes"]]) {
      const run = freshRun()
      assertRefused(await train(run.config, `s3://${BUCKET}/${prefix}`, "--resume", "auto"), prefix, detail)
      assert.isFalse(fs.existsSync(metricsFile(run.runDir)), "no step ran")
      assertRefused(await runCli(["inspect", `s3://${BUCKET}/${prefix}`]), prefix, detail)
    }
    assert.isTrue(fs.existsSync(path.join(dots, "..._S3rver_object")), "the refused location was left alone")

    // Tensor files without their manifest are no checkpoint: resuming from it is refused.
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "nomanifest/step-00000004/model.safetensors", Body: model })
    )
    const run = freshRun()
    const from = `s3://${BUCKET}/nomanifest/step-00000004`
    assertRefused(await runCli(["train", "--config", run.config, "--resume", "exact", "--from", from]), from)
    assert.isFalse(fs.existsSync(metricsFile(run.runDir)), "no step ran")
  })
})
