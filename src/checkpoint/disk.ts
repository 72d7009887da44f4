/**
 * Where a checkpoint's bytes go: the few storage operations the publish protocol (publish.ts)
 * needs, with three implementations — the Effect `FileSystem` (durable: files and directories are
 * fsynced), a writer thread doing the same with blocking calls (writerThreadDisk.ts), and an
 * in-memory tree for tests. The protocol is written once over this interface, so every
 * implementation publishes the same way.
 */
import { Effect, FileSystem, PlatformError } from "effect"
import * as NodePath from "node:path"
import { CheckpointIoError } from "./errors.ts"
import { sha256Hex } from "./sha256.ts"

export type EntryKind = "File" | "Directory" | "Other"

/** One file to write: a base name inside the target directory, and its bytes. */
export interface FileToWrite {
  readonly name: string
  readonly bytes: Uint8Array
}

/** The read side of a storage backend: all that listing, verifying and loading need. */
export interface CheckpointReader {
  /** Names of the subdirectories of `dir`; empty when `dir` does not exist. */
  readonly listDirectories: (dir: string) => Effect.Effect<ReadonlyArray<string>, CheckpointIoError>
  /** Kind and size of the entry at `path` (symbolic links not followed), or undefined when absent. */
  readonly stat: (
    path: string
  ) => Effect.Effect<{ readonly kind: EntryKind; readonly size: number } | undefined, CheckpointIoError>
  readonly readFile: (path: string) => Effect.Effect<Uint8Array, CheckpointIoError>
}

/** A backend that can also publish by rename: the file system and memory. */
export interface CheckpointDisk extends CheckpointReader {
  /**
   * Creates `dir` (and its missing parents), then creates each file in it (none may exist),
   * writes it and flushes it and the directory to stable storage. Returns each file's sha256 (hex),
   * computed from the bytes as written.
   */
  readonly writeFilesDurable: (
    dir: string,
    files: ReadonlyArray<FileToWrite>
  ) => Effect.Effect<ReadonlyArray<string>, CheckpointIoError>
  /** Renames `from` to `to` (fails when `to` exists) and flushes the parent of `to`. */
  readonly rename: (from: string, to: string) => Effect.Effect<void, CheckpointIoError>
  /** Removes a directory and everything in it; succeeds when it is already gone. */
  readonly removeDirectory: (dir: string) => Effect.Effect<void, CheckpointIoError>
}

const ioError = (operation: string, path: string) => (error: PlatformError.PlatformError) =>
  new CheckpointIoError({ operation, path, detail: error.message })

const isNotFound = (error: PlatformError.PlatformError): boolean => error.reason._tag === "NotFound"

const targetExists = (from: string, to: string) =>
  new CheckpointIoError({ operation: "rename", path: `${from} → ${to}`, detail: "the target exists" })

/** The durable implementation over Effect's `FileSystem` service. */
export const fileSystemDisk = (fs: FileSystem.FileSystem): CheckpointDisk => {
  // A directory's entries are made durable by fsyncing the directory itself. Windows cannot open
  // a directory for this, and NTFS journals renames, so there it is skipped.
  const syncDirectory = (dir: string) =>
    process.platform === "win32"
      ? Effect.void
      : Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (handle) => handle.sync)).pipe(
        Effect.mapError(ioError("fsync", dir))
      )

  const writeDurable = (path: string, bytes: Uint8Array) =>
    Effect.scoped(Effect.gen(function*() {
      const file = yield* fs.open(path, { flag: "wx" })
      yield* file.writeAll(bytes)
      yield* file.sync
    })).pipe(Effect.mapError(ioError("write", path)))

  return {
    listDirectories: (dir) =>
      fs.readDirectoryEntries(dir).pipe(
        Effect.map((entries) => entries.filter((entry) => entry.type === "Directory").map((entry) => entry.name)),
        Effect.catchIf(isNotFound, () => Effect.succeed([])),
        Effect.mapError(ioError("list", dir))
      ),

    stat: (path) =>
      fs.lstat(path).pipe(
        Effect.map((info) => ({
          kind: info.type === "File"
            ? "File" as const
            : info.type === "Directory"
            ? "Directory" as const
            : "Other" as const,
          size: Number(info.size)
        })),
        Effect.catchIf(isNotFound, () => Effect.succeed(undefined)),
        Effect.mapError(ioError("stat", path))
      ),

    readFile: (path) => fs.readFile(path).pipe(Effect.mapError(ioError("read", path))),

    writeFilesDurable: (dir, files) =>
      Effect.gen(function*() {
        const existed = yield* fs.exists(dir).pipe(Effect.mapError(ioError("stat", dir)))
        yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(ioError("mkdir", dir)))
        if (!existed) yield* syncDirectory(NodePath.dirname(dir))
        const hashes: Array<string> = []
        for (const { name, bytes } of files) {
          yield* writeDurable(NodePath.join(dir, name), bytes)
          hashes.push(sha256Hex(bytes))
        }
        yield* syncDirectory(dir)
        return hashes
      }),

    rename: (from, to) =>
      Effect.gen(function*() {
        if (yield* fs.exists(to)) return yield* targetExists(from, to)
        yield* fs.rename(from, to)
      }).pipe(
        Effect.mapError((error) =>
          error._tag === "PlatformError" ? ioError("rename", `${from} → ${to}`)(error) : error
        ),
        Effect.andThen(syncDirectory(NodePath.dirname(to)))
      ),

    removeDirectory: (dir) =>
      fs.remove(dir, { recursive: true }).pipe(
        Effect.catchIf(isNotFound, () => Effect.void),
        Effect.mapError(ioError("remove", dir))
      )
  }
}

/** An in-memory tree: files by full path, plus the set of directories. */
export interface MemoryDisk extends CheckpointDisk {
  /** The stored files by full path; tests may edit them to simulate damage. */
  readonly files: Map<string, Uint8Array>
  readonly directories: Set<string>
}

export const makeMemoryDisk = (): MemoryDisk => {
  const files = new Map<string, Uint8Array>()
  const directories = new Set<string>()
  const norm = (path: string) => NodePath.resolve("/", path)
  const missing = (operation: string, path: string) =>
    Effect.fail(new CheckpointIoError({ operation, path, detail: "no such file or directory" }))
  const isInside = (path: string, dir: string) => path.startsWith(`${dir}/`)

  return {
    files,
    directories,

    listDirectories: (dir) =>
      Effect.sync(() => {
        const parent = norm(dir)
        return [...directories].filter((d) => NodePath.dirname(d) === parent && d !== parent).map((d) =>
          NodePath.basename(d)
        )
      }),

    stat: (path) =>
      Effect.sync(() => {
        const p = norm(path)
        const file = files.get(p)
        if (file !== undefined) return { kind: "File" as const, size: file.length }
        return directories.has(p) ? { kind: "Directory" as const, size: 0 } : undefined
      }),

    readFile: (path) =>
      Effect.suspend(() => {
        const file = files.get(norm(path))
        return file === undefined ? missing("read", path) : Effect.succeed(file.slice())
      }),

    writeFilesDurable: (dir, written) =>
      Effect.suspend(() => {
        const target = norm(dir)
        if (files.has(target)) {
          return Effect.fail(new CheckpointIoError({ operation: "mkdir", path: dir, detail: "a file is there" }))
        }
        for (const { name } of written) {
          const p = NodePath.join(target, name)
          if (files.has(p) || directories.has(p)) {
            return Effect.fail(new CheckpointIoError({ operation: "write", path: p, detail: "the file exists" }))
          }
        }
        for (let d = target; !directories.has(d) && d !== "/"; d = NodePath.dirname(d)) directories.add(d)
        for (const { name, bytes } of written) files.set(NodePath.join(target, name), bytes.slice())
        return Effect.succeed(written.map(({ bytes }) => sha256Hex(bytes)))
      }),

    rename: (from, to) =>
      Effect.suspend(() => {
        const source = norm(from)
        const target = norm(to)
        if (files.has(target) || directories.has(target)) {
          return Effect.fail(
            new CheckpointIoError({ operation: "rename", path: `${from} → ${to}`, detail: "the target exists" })
          )
        }
        const file = files.get(source)
        if (file !== undefined) {
          files.delete(source)
          files.set(target, file)
          return Effect.void
        }
        if (!directories.has(source)) return missing("rename", from)
        const move = (path: string) => target + path.slice(source.length)
        for (const d of [...directories]) {
          if (d === source || isInside(d, source)) {
            directories.delete(d)
            directories.add(move(d))
          }
        }
        for (const [path, data] of [...files]) {
          if (isInside(path, source)) {
            files.delete(path)
            files.set(move(path), data)
          }
        }
        return Effect.void
      }),

    removeDirectory: (dir) =>
      Effect.sync(() => {
        const root = norm(dir)
        for (const d of [...directories]) if (d === root || isInside(d, root)) directories.delete(d)
        for (const path of [...files.keys()]) if (isInside(path, root)) files.delete(path)
      })
  }
}
