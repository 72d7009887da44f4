/**
 * The few storage operations the checkpoint store needs, with two implementations: the Effect
 * `FileSystem` (durable: files and directories are fsynced) and an in-memory tree for tests.
 * Keeping the store's logic on this narrow interface lets both layers share every rule.
 */
import { Effect, FileSystem, PlatformError } from "effect"
import * as NodePath from "node:path"
import { CheckpointIoError } from "./errors.ts"

export type EntryKind = "File" | "Directory" | "Other"

export interface CheckpointDisk {
  /** Names of the subdirectories of `dir`; empty when `dir` does not exist. */
  readonly listDirectories: (dir: string) => Effect.Effect<ReadonlyArray<string>, CheckpointIoError>
  /** Kind and size of the entry at `path` (symbolic links not followed), or undefined when absent. */
  readonly stat: (
    path: string
  ) => Effect.Effect<{ readonly kind: EntryKind; readonly size: number } | undefined, CheckpointIoError>
  readonly readFile: (path: string) => Effect.Effect<Uint8Array, CheckpointIoError>
  /** Creates `dir` and its missing parents. */
  readonly makeDirectory: (dir: string) => Effect.Effect<void, CheckpointIoError>
  /** Creates `path` (which must not exist), writes `bytes` and flushes them to stable storage. */
  readonly writeFileDurable: (path: string, bytes: Uint8Array) => Effect.Effect<void, CheckpointIoError>
  /** Flushes a directory's entries (creations, renames) to stable storage. */
  readonly syncDirectory: (dir: string) => Effect.Effect<void, CheckpointIoError>
  /** Renames `from` to `to`; fails when `to` exists. */
  readonly rename: (from: string, to: string) => Effect.Effect<void, CheckpointIoError>
  /** Removes a directory and everything in it; succeeds when it is already gone. */
  readonly removeDirectory: (dir: string) => Effect.Effect<void, CheckpointIoError>
}

const ioError = (operation: string, path: string) => (error: PlatformError.PlatformError) =>
  new CheckpointIoError({ operation, path, detail: error.message })

const isNotFound = (error: PlatformError.PlatformError): boolean => error.reason._tag === "NotFound"

/** The durable implementation over Effect's `FileSystem` service. */
export const fileSystemDisk = (fs: FileSystem.FileSystem): CheckpointDisk => ({
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

  makeDirectory: (dir) => fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(ioError("mkdir", dir))),

  writeFileDurable: (path, bytes) =>
    Effect.scoped(
      Effect.gen(function*() {
        const file = yield* fs.open(path, { flag: "wx" })
        yield* file.writeAll(bytes)
        yield* file.sync
      })
    ).pipe(Effect.mapError(ioError("write", path))),

  // A directory's entries are made durable by fsyncing the directory itself. Windows cannot open
  // a directory for this, and NTFS journals renames, so there it is skipped.
  syncDirectory: (dir) =>
    process.platform === "win32"
      ? Effect.void
      : Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (handle) => handle.sync)).pipe(
        Effect.mapError(ioError("fsync", dir))
      ),

  rename: (from, to) =>
    Effect.gen(function*() {
      if (yield* fs.exists(to)) {
        return yield* new CheckpointIoError({
          operation: "rename",
          path: `${from} → ${to}`,
          detail: "the target exists"
        })
      }
      yield* fs.rename(from, to)
    }).pipe(
      Effect.mapError((error) => error._tag === "PlatformError" ? ioError("rename", `${from} → ${to}`)(error) : error)
    ),

  removeDirectory: (dir) =>
    fs.remove(dir, { recursive: true }).pipe(
      Effect.catchIf(isNotFound, () => Effect.void),
      Effect.mapError(ioError("remove", dir))
    )
})

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

    makeDirectory: (dir) =>
      Effect.sync(() => {
        for (let d = norm(dir); !directories.has(d) && d !== "/"; d = NodePath.dirname(d)) directories.add(d)
      }),

    writeFileDurable: (path, bytes) =>
      Effect.suspend(() => {
        const p = norm(path)
        if (!directories.has(NodePath.dirname(p))) return missing("write", path)
        if (files.has(p) || directories.has(p)) {
          return Effect.fail(new CheckpointIoError({ operation: "write", path, detail: "the file exists" }))
        }
        files.set(p, bytes.slice())
        return Effect.void
      }),

    syncDirectory: () => Effect.void,

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
