/**
 * The published package, as a user gets it: `npm pack` (which builds dist/ through `prepare`) on
 * a copy of the sources, the tarball unpacked into a fresh project, and the exact-resume test kit
 * run from there — from a plain .mjs file, and from a .ts file that `tsc --noEmit` type-checks
 * against the installed declarations first. The installed `continuum` command runs from dist/.
 *
 * The project gets the tarball's contents as `npm install <tarball>` places them
 * (node_modules/continuum) and its dependencies as symlinks into this repository's node_modules,
 * the versions the lock file pins: an offline `npm install` of the tarball resolves the same 277
 * packages from the npm cache in about a minute, and fails wherever that cache is incomplete.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync, type SpawnSyncReturns } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { repoRoot } from "../support/processes.ts"
import { tempDir } from "../support/tinyRun.ts"

/** What `npm pack` needs from the repository: the manifest, the build inputs and the shipped files. */
const packInputs = ["package.json", "tsconfig.json", "tsconfig.build.json", "scripts", "src", "bin", "README.md"]

const run = (command: string, args: ReadonlyArray<string>, cwd: string): SpawnSyncReturns<string> => {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, CONTINUUM_SOURCES: "0" } })
  assert.strictEqual(result.status, 0, `${command} ${args.join(" ")}\n${result.stdout}\n${result.stderr}`)
  return result
}

/** Packs a copy of the repository (its dist/ and node_modules untouched) and returns the tarball's path. */
const pack = (work: string): string => {
  const staging = path.join(work, "staging")
  for (const input of packInputs) fs.cpSync(path.join(repoRoot, input), path.join(staging, input), { recursive: true })
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(staging, "node_modules"))
  const out = run("npm", ["pack", "--json", "--pack-destination", work], staging)
  const [packed] = JSON.parse(out.stdout) as ReadonlyArray<{ filename: string; files: ReadonlyArray<{ path: string }> }>
  const files = packed!.files.map((f) => f.path)
  for (const shipped of ["bin/continuum", "dist/index.js", "dist/index.d.ts", "dist/checkpoint/writerWorker.mjs"]) {
    assert.include(files, shipped)
  }
  assert.isEmpty(files.filter((f) => f.startsWith("src/") || f.startsWith("test/") || f.endsWith(".ts.map")))
  return path.join(work, packed!.filename)
}

/** A project with the tarball installed; `typeDependencies` are symlinked beside the package's own. */
const installInto = (project: string, tarball: string, typeDependencies: ReadonlyArray<string>): void => {
  const installed = path.join(project, "node_modules", "continuum")
  fs.mkdirSync(installed, { recursive: true })
  run("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"], project)
  const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as {
    dependencies: Record<string, string>
  }
  for (const name of new Set([...Object.keys(manifest.dependencies), ...typeDependencies])) {
    const link = path.join(project, "node_modules", name)
    fs.mkdirSync(path.dirname(link), { recursive: true })
    fs.symlinkSync(path.join(repoRoot, "node_modules", name), link)
  }
  fs.writeFileSync(
    path.join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { continuum: tarball } })
  )
}

/** A tiny run with a resume at step 3 of 6, saved by the background writer (the worker shipped in dist/). */
const tinyRun = `{
  steps: 6,
  model: { dim: 16, layers: 1, heads: 2, ffnDim: 32, seqLen: 16 },
  batch: { global: 4, micro: 2 },
  schedule: { warmupSteps: 2 },
  eval: { every: 3, batches: 1 },
  checkpoint: { every: 3, async: true }
}`

const checkMjs = `import { Effect } from "effect"
import { checkExactResume, decodeRunConfig } from "continuum"

const config = await Effect.runPromise(decodeRunConfig(${tinyRun}))
const report = await Effect.runPromise(checkExactResume({ config, stopAt: [3] }))
console.log(JSON.stringify(report))
`

const checkTs = `import { Effect } from "effect"
import { checkExactResume, decodeRunConfig, type ExactResumeReport, type RunConfig } from "continuum"

const config: RunConfig = await Effect.runPromise(decodeRunConfig(${tinyRun}))
const report: ExactResumeReport = await Effect.runPromise(checkExactResume({ config, stopAt: [3] }))
// The declarations are real types, not any: a stop point must be a number.
// @ts-expect-error stopAt takes numbers
checkExactResume({ config, stopAt: ["3"] })
const compared: number = report.stopPoints[0]!.tensorsCompared
console.log(JSON.stringify({ ...report, compared }))
`

// skipLibCheck, as `tsc --init` sets it: without DOM types, effect's and gpu.js's own declarations
// do not check (CryptoKey, WebGLTexture); the consumer's code is checked against them all the same.
const consumerTsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2022"],
    types: ["node"],
    strict: true,
    skipLibCheck: true,
    noEmit: true
  },
  files: ["check.ts"]
}

const expectPassed = (stdout: string): void => {
  const report = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
    totalSteps: number
    stopPoints: ReadonlyArray<{ stopAt: number; eventsCompared: number; tensorsCompared: number }>
  }
  assert.strictEqual(report.totalSteps, 6)
  assert.deepStrictEqual(report.stopPoints.map((s) => s.stopAt), [3])
  assert.isAbove(report.stopPoints[0]!.eventsCompared, 0)
  assert.isAbove(report.stopPoints[0]!.tensorsCompared, 0)
}

describe("the packed package", () => {
  it("installs from its tarball; the test kit runs from .mjs and from type-checked .ts; the CLI runs from dist/", () => {
    const work = tempDir("continuum-pack-")
    const project = path.join(work, "consumer")
    installInto(project, pack(work), ["@types/node", "tsx"])
    fs.writeFileSync(path.join(project, "check.mjs"), checkMjs)
    fs.writeFileSync(path.join(project, "check.ts"), checkTs)
    fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(consumerTsconfig, null, 2))

    expectPassed(run(process.execPath, ["check.mjs"], project).stdout)

    const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc")
    run(process.execPath, [tsc, "-p", "tsconfig.json"], project)
    expectPassed(run(process.execPath, ["--import", "tsx", "check.ts"], project).stdout)

    const version = run(
      process.execPath,
      [path.join("node_modules", "continuum", "bin", "continuum"), "--version"],
      project
    )
    assert.strictEqual(version.stdout.trim(), "continuum v0.1.0")
    fs.rmSync(work, { recursive: true, force: true })
  })
})
