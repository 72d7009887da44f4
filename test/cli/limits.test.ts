/**
 * Sizes and inputs that would exhaust memory, hang or overflow the stack are refused by the real
 * CLI before anything is allocated or written: exit 2, one `error:` line, no stack trace.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { repoRoot } from "../support/processes.ts"
import { tempDir } from "../support/tinyRun.ts"

/** Every path below `dir` with its size, so that any file written or grown shows. */
const listing = (dir: string): Array<string> =>
  fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).sort().map((entry) => {
    const stat = fs.statSync(path.join(dir, entry))
    return `${entry} ${stat.isDirectory() ? "dir" : stat.size}`
  })

/**
 * Runs `bin/continuum <command> --set runDir=<dir>/run <args>` in a fresh directory whose run
 * directory already holds a file, and asserts the refusal; `args` may write its input files into
 * the directory first.
 */
const assertRefused = (
  command: "train" | "plan",
  args: (dir: string) => ReadonlyArray<string>,
  expected: RegExp
): void => {
  const dir = tempDir("continuum-limits-")
  const runDir = path.join(dir, "run")
  fs.mkdirSync(runDir)
  fs.writeFileSync(path.join(runDir, "notes.txt"), "kept as it is\n")
  const given = args(dir)
  const before = listing(dir)
  const result = spawnSync(
    process.execPath,
    [path.join(repoRoot, "bin", "continuum"), command, "--set", `runDir=${runDir}`, ...given],
    { cwd: repoRoot, encoding: "utf8", timeout: 60_000, maxBuffer: 1024 * 1024 }
  )
  assert.isNull(result.error ?? null, "the process ran to its end (no hang)")
  assert.strictEqual(result.status, 2, result.stderr)
  const lines = result.stderr.split("\n").filter((line) => line !== "")
  assert.lengthOf(lines, 1, result.stderr)
  assert.match(lines[0]!, /^error: /)
  assert.match(lines[0]!, expected)
  assert.notMatch(result.stderr, /^\s+at /m, "no stack trace")
  assert.deepStrictEqual(listing(dir), before, "nothing was written")
}

const writeIn = (dir: string, name: string, content: string): string => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, content)
  return file
}

describe("sizes beyond the machine are refused before anything is allocated", () => {
  it("model.dim = 1e9", () =>
    assertRefused(
      "train",
      () => ["--set", "model.dim=1e9"],
      /RunTooLarge: model\.dim 1000000000 needs ~[\d.]+ EiB \(parameters .*\); this machine has [\d.]+ GiB \(set --max-memory/
    ))

  it("model.vocabSize = 1e9", () =>
    assertRefused("train", () => ["--set", "model.vocabSize=1e9"], /RunTooLarge: model\.vocabSize 1000000000 needs/))

  it("model.dim = 100000 with model.ffnDim = 400000", () =>
    assertRefused(
      "train",
      () => ["--set", "model.dim=100000", "--set", "model.ffnDim=400000"],
      /RunTooLarge: model\.dim 100000, model\.ffnDim 400000 need ~[\d.]+ TiB/
    ))

  it("batch.global = 1e15", () =>
    assertRefused(
      "train",
      () => ["--set", "batch.global=1e15"],
      /ConfigError: batch\.global = 1000000000000000: Expected a value less than or equal to 2147483647/
    ))

  it("model.layers = 1000000", () =>
    assertRefused("train", () => ["--set", "model.layers=1000000"], /RunTooLarge: model\.layers 1000000 needs/))

  it("a tensor too large to index, however much memory --max-memory allows", () =>
    assertRefused(
      "train",
      () => ["--set", "model.dim=65536", "--set", "model.heads=64", "--max-memory", "1PiB"],
      /RunTooLarge: model\.dim × model\.dim: the attention weights would hold 4294967296 values/
    ))

  it("tensors beyond the cpu backend's 2 GiB memory, however much memory --max-memory allows", () =>
    assertRefused(
      "train",
      () => [
        "--set",
        "model.dim=4096",
        "--set",
        "model.heads=32",
        "--set",
        "model.ffnDim=11008",
        "--max-memory",
        "1PiB"
      ],
      /RunTooLarge: model\.dim 4096, model\.heads 32, model\.ffnDim 11008 need ~[\d.]+ GiB of tensors; the cpu backend holds at most 2\.0 GiB/
    ))

  it("the reference run under a --max-memory it does not fit, and a malformed --max-memory", () => {
    assertRefused(
      "train",
      () => ["--max-memory", "64MiB"],
      /RunTooLarge: the reference sizes need .*; --max-memory is 64\.0 MiB$/
    )
    assertRefused(
      "plan",
      () => ["--max-memory", "lots"],
      /ConfigError: --max-memory = lots: expected a number of bytes/
    )
  })
})

describe("inputs that are not bounded files are refused before they are read", () => {
  it("--config /dev/zero", () =>
    assertRefused(
      "train",
      () => ["--config", "/dev/zero"],
      /ConfigError: --config = \/dev\/zero: is a device, not a regular file$/
    ))

  it("--config larger than 1 MiB", () =>
    assertRefused(
      "train",
      (dir) => ["--config", writeIn(dir, "big.json", `{"seed": 1${" ".repeat(1024 * 1024)}}`)],
      /ConfigError: --config = .*big\.json: is 1048587 bytes \(1\.0 MiB\), more than the 1048576 bytes \(1\.0 MiB\) allowed/
    ))

  it("data.source = /dev/zero, and a FIFO", () => {
    assertRefused(
      "train",
      () => ["--set", "data.source=/dev/zero"],
      /DataSourceUnreadable: data\.source: cannot read \/dev\/zero: it is a device/
    )
    assertRefused(
      "train",
      (dir) => {
        const fifo = path.join(dir, "corpus.txt")
        assert.strictEqual(spawnSync("mkfifo", [fifo]).status, 0)
        return ["--set", `data.source=${fifo}`]
      },
      /DataSourceUnreadable: data\.source: cannot read .*corpus\.txt: it is a FIFO/
    )
  })

  it("--resume /dev/zero (a policy file)", () =>
    assertRefused(
      "train",
      () => ["--resume", "/dev/zero"],
      /PolicyError: .*policy file: \/dev\/zero is a device, not a regular file$/
    ))

  it("--resume exact --from a link to /dev/zero named x.safetensors", () =>
    assertRefused(
      "train",
      (dir) => {
        const link = path.join(dir, "x.safetensors")
        fs.symlinkSync("/dev/zero", link)
        return ["--resume", "exact", "--from", link]
      },
      /ResumeSourceError: weights file .*x\.safetensors is a device, not a regular file$/
    ))
})

describe("a configuration or policy must be a shallow JSON object", () => {
  const deep = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`

  it("a configuration nested 100 000 levels deep", () =>
    assertRefused(
      "train",
      (dir) => ["--config", writeIn(dir, "deep.json", `{"model": ${deep(100_000)}}`)],
      /ConfigError: --config = .*deep\.json: nested 100001 levels deep, more than the 64 allowed$/
    ))

  // 50 000 levels: one command-line argument may hold at most 128 KiB.
  it("a --set value nested 50 000 levels deep", () =>
    assertRefused(
      "plan",
      () => ["--set", `model=${deep(50_000)}`],
      /ConfigError: model = .*: nested 50000 levels deep/
    ))

  it("a policy file nested 100 000 levels deep", () =>
    assertRefused(
      "train",
      (dir) => ["--resume", writeIn(dir, "policy.json", deep(100_000))],
      /PolicyError: nested 100000 levels deep, more than the 64 allowed$/
    ))

  for (
    const [content, kind] of [
      ["\"runs/x\"", "a string"],
      ["42", "a number"],
      ["null", "null"],
      ["[]", "an array"]
    ] as const
  ) {
    it(`a configuration that is ${kind}`, () =>
      assertRefused(
        "train",
        (dir) => ["--config", writeIn(dir, "run.json", content)],
        new RegExp(`ConfigError: --config = .*run\\.json: expected a JSON object at the top level, found ${kind}$`)
      ))
  }
})
