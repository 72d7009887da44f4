/**
 * Resolves `data.source` to a token stream: `moby-dick` (the default) is the embedded corpus;
 * any other value is a path — a directory is read as text files, a `*.bin` file as a uint16 token
 * file (nanoGPT or llm.c), anything else as one text file.
 */
import { Effect, FileSystem } from "effect"
import type { DataSourceError } from "../errors.ts"
import type { TokenStream } from "../TokenStream.ts"
import { loadMobyDick, MOBY_DICK } from "./mobyDick.ts"
import { fromPlatformError } from "./platformErrors.ts"
import { readTextDirectory, readTextFile } from "./textFiles.ts"
import { decodeTokenFile } from "./tokenFile.ts"

export const DEFAULT_SOURCE = MOBY_DICK

export const readTokenFile = Effect.fnUntraced(function*(
  path: string
): Effect.fn.Return<TokenStream, DataSourceError, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const bytes = yield* fs.readFile(path).pipe(Effect.mapError(fromPlatformError(path)))
  return yield* decodeTokenFile(path, bytes)
})

export const loadSource = Effect.fnUntraced(function*(
  source: string
): Effect.fn.Return<TokenStream, DataSourceError, FileSystem.FileSystem> {
  if (source === MOBY_DICK) return yield* loadMobyDick
  const fs = yield* FileSystem.FileSystem
  const info = yield* fs.stat(source).pipe(Effect.mapError(fromPlatformError(source)))
  if (info.type === "Directory") return yield* readTextDirectory(source)
  if (source.toLowerCase().endsWith(".bin")) return yield* readTokenFile(source)
  return yield* readTextFile(source)
})
