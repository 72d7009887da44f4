// Writes one checkpoint directory atomically on its own thread, with blocking file calls.
//
// A training step is one long synchronous computation, so a save driven from the main thread
// only advances one file operation per step. Here the whole save — hash, write, fsync, manifest,
// rename, fsync of the parent — runs while the main thread trains. Plain JavaScript, so the
// worker needs no TypeScript loader.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { parentPort } from "node:worker_threads"

const writeDurable = (path, bytes) => {
  const fd = fs.openSync(path, "wx")
  try {
    let offset = 0
    while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

const syncDirectory = (dir) => {
  if (process.platform === "win32") return
  const fd = fs.openSync(dir, "r")
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** The checkpoint in `job.temp`, then renamed to `job.target` (an existing one steps aside first). */
const writeCheckpoint = (job) => {
  fs.mkdirSync(job.root, { recursive: true })
  fs.mkdirSync(job.temp)
  try {
    let manifest = job.manifest
    const hashes = {}
    for (const file of job.files) {
      const hash = createHash("sha256").update(file.bytes).digest("hex")
      hashes[file.component] = hash
      // The placeholder has the hash's length, so replacing it moves nothing else in the JSON.
      manifest = manifest.replace(file.placeholder, hash)
      writeDurable(`${job.temp}/${file.name}`, file.bytes)
    }
    writeDurable(`${job.temp}/${job.manifestName}`, new TextEncoder().encode(manifest))
    syncDirectory(job.temp)
    if (!fs.existsSync(job.target)) {
      fs.renameSync(job.temp, job.target)
      syncDirectory(job.root)
    } else {
      fs.renameSync(job.target, job.displaced)
      try {
        fs.renameSync(job.temp, job.target)
      } catch (error) {
        fs.renameSync(job.displaced, job.target)
        throw error
      }
      syncDirectory(job.root)
      fs.rmSync(job.displaced, { recursive: true, force: true })
    }
    return hashes
  } catch (error) {
    fs.rmSync(job.temp, { recursive: true, force: true })
    throw error
  }
}

parentPort.on("message", ({ id, job }) => {
  try {
    parentPort.postMessage({ id, hashes: writeCheckpoint(job) })
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) })
  }
})
