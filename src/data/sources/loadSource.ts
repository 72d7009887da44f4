/**
 * Resolves `data.source` to a token stream: `moby-dick` (the default) is the embedded corpus;
 * any other value is a path — a directory is read as text files, a `*.bin` file as a uint16 token
 * file (nanoGPT or llm.c), anything else as one text file.
 */
import { Effect, FileSystem } from "effect"
import { MemoryBudget } from "../../config/MemoryBudget.ts"
import type { DataSourceError } from "../errors.ts"
import type { TokenStream } from "../TokenStream.ts"
import { notRegular, readSourceFile, sourceReadLimit } from "./boundedSource.ts"
import { loadMobyDick, MOBY_DICK, mobyDickDataDir } from "./mobyDick.ts"
import { fromPlatformError } from "./platformErrors.ts"
import { listTextFiles, readTextDirectory, readTextFile } from "./textFiles.ts"
import { decodeTokenFile } from "./tokenFile.ts"

export const DEFAULT_SOURCE = MOBY_DICK

/** A token file of at most `limit` bytes. */
export const readTokenFile = Effect.fnUntraced(function*(
  path: string,
  limit: number
): Effect.fn.Return<TokenStream, DataSourceError, FileSystem.FileSystem> {
  const bytes = yield* readSourceFile(path, limit)
  return yield* decodeTokenFile(path, bytes)
})

/** Loads `source`; no file is read past the limit the memory budget allows (`sourceReadLimit`). */
export const loadSource = Effect.fnUntraced(function*(
  source: string
): Effect.fn.Return<TokenStream, DataSourceError, FileSystem.FileSystem> {
  if (source === MOBY_DICK) return yield* loadMobyDick
  const fs = yield* FileSystem.FileSystem
  const limit = sourceReadLimit(yield* MemoryBudget)
  const info = yield* fs.stat(source).pipe(Effect.mapError(fromPlatformError(source)))
  if (info.type === "Directory") return yield* readTextDirectory(source, limit)
  if (source.toLowerCase().endsWith(".bin")) return yield* readTokenFile(source, limit)
  return yield* readTextFile(source, limit)
})

/**
 * The bytes `source` occupies on disk, without reading it: what the memory estimate counts for
 * the data. Fails for a path that is neither a regular file nor a directory (a device or a FIFO
 * would never end).
 */
export const sourceBytes = Effect.fnUntraced(function*(
  source: string
): Effect.fn.Return<number, DataSourceError, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const sizeOf = (path: string) => fs.stat(path).pipe(Effect.mapError(fromPlatformError(path)))
  const sum = (paths: ReadonlyArray<string>) =>
    Effect.map(
      Effect.forEach(paths, (path) => sizeOf(path)),
      (infos) => infos.reduce((total, info) => total + Number(info.size), 0)
    )
  if (source === MOBY_DICK) {
    const dir = yield* mobyDickDataDir
    const names = yield* fs.readDirectory(dir).pipe(Effect.mapError(fromPlatformError(dir)))
    return yield* sum(names.filter((name) => name.endsWith(".json")).map((name) => `${dir}/${name}`))
  }
  const info = yield* sizeOf(source)
  if (info.type === "Directory") return yield* sum(yield* listTextFiles(source))
  if (info.type !== "File") return yield* notRegular(source, info.type)
  return Number(info.size)
})
