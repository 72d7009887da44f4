// The writing primitives of a checkpoint disk, run on their own thread with blocking calls.
//
// A training step is one long synchronous computation, so file operations driven from the main
// thread only advance between steps. Here hashing, writing and fsyncing run while the main thread
// trains. Plain JavaScript, so the worker needs no TypeScript loader. The protocol that orders
// these operations lives in publish.ts; this file only carries them out.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { parentPort } from "node:worker_threads"

const syncDirectory = (dir) => {
  if (process.platform === "win32") return
  const fd = fs.openSync(dir, "r")
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

const writeDurable = (file, bytes) => {
  const fd = fs.openSync(file, "wx")
  try {
    let offset = 0
    while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

const operations = {
  writeFilesDurable: (dir, files) => {
    if (fs.mkdirSync(dir, { recursive: true }) !== undefined) syncDirectory(path.dirname(dir))
    const hashes = files.map(({ name, bytes }) => {
      writeDurable(path.join(dir, name), bytes)
      return createHash("sha256").update(bytes).digest("hex")
    })
    syncDirectory(dir)
    return hashes
  },
  rename: (from, to) => {
    if (fs.existsSync(to)) throw new Error("the target exists")
    fs.renameSync(from, to)
    syncDirectory(path.dirname(to))
  },
  removeDirectory: (dir) => fs.rmSync(dir, { recursive: true, force: true })
}

parentPort.on("message", ({ id, operation, args }) => {
  try {
    parentPort.postMessage({ id, result: operations[operation](...args) })
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) })
  }
})
