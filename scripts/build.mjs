#!/usr/bin/env node
/**
 * Builds the shipped package into dist/: `tsc -p tsconfig.build.json` compiles src/ to JavaScript
 * with declarations, then the files src/ loads by path at run time are copied beside the
 * compiled modules, and the declarations' relative `.ts` specifiers are rewritten to `.js`.
 *
 *   node scripts/build.mjs        (the package's `prepare` script: runs on `npm install` / `npm ci`)
 *
 * Plain JavaScript, so it runs before anything else is built and needs no TypeScript loader.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const src = path.join(root, "src")
const dist = path.join(root, "dist")

/**
 * Source files with no place in dist/: the TypeScript that tsc compiles, and the WebAssembly text
 * whose binary is embedded in a generated module (scripts/build-wasm.ts).
 */
const compiledOrEmbedded = [".ts", ".wat"]

/** Every file under `dir`, as paths relative to it. */
const filesUnder = (dir) =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)))

// A stale module from a renamed source must not survive in dist/.
fs.rmSync(dist, { recursive: true, force: true })

// typescript's package exports do not list bin/tsc: find it beside its package.json.
const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc")
const compiled = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], {
  stdio: "inherit"
})
if (compiled.status !== 0) {
  console.error(`build: tsc -p tsconfig.build.json failed (exit ${compiled.status ?? compiled.signal})`)
  process.exit(1)
}

// Run-time assets: what a module opens by path (e.g. the checkpoint writer's worker script,
// `new URL("./writerWorker.mjs", import.meta.url)`) must sit at the same place relative to it.
const assets = filesUnder(src).filter((file) => !compiledOrEmbedded.some((ext) => file.endsWith(ext)))
for (const file of assets) {
  fs.mkdirSync(path.dirname(path.join(dist, file)), { recursive: true })
  fs.copyFileSync(path.join(src, file), path.join(dist, file))
}

// tsc keeps `./x.ts` in declarations (valid for tsc, which maps it to ./x.d.ts, but not for every
// tool that reads them); the emitted JavaScript already says `./x.js`.
const tsSpecifier = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g
const declarations = filesUnder(dist).filter((file) => file.endsWith(".d.ts"))
for (const file of declarations) {
  const full = path.join(dist, file)
  const text = fs.readFileSync(full, "utf8")
  const rewritten = text.replace(tsSpecifier, "$1$2.js$3")
  if (rewritten !== text) fs.writeFileSync(full, rewritten)
}

console.error(
  `build: dist/ has ${declarations.length} modules with declarations and ${assets.length} run-time asset(s)`
)
