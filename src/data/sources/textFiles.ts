/**
 * User text as byte-level tokens: one file, or every `.txt`/`.md` file below a directory.
 *
 * Bytes are taken as they are on disk (text is expected to be UTF-8, but nothing is decoded, so
 * no byte is altered). A directory is walked depth-first with each directory's entries sorted by
 * name (code-unit order, locale-independent), skipping hidden entries (names starting with `.`)
 * and not descending into symbolic links to directories; files are joined with a blank-line
 * separator ("\n\n") so that one document never runs straight into the next.
 */
import { Effect, FileSystem } from "effect"
import { DataSourceEmpty, DataSourceNotFound, DataSourceUnreadable } from "../errors.ts"
import { byteStream, type TokenStream } from "../TokenStream.ts"
import { readSourceFile } from "./boundedSource.ts"
import { fromPlatformError } from "./platformErrors.ts"

export const TEXT_EXTENSIONS: ReadonlyArray<string> = [".txt", ".md"]

const DOCUMENT_SEPARATOR = new TextEncoder().encode("\n\n")

const isTextFileName = (name: string): boolean => {
  const lower = name.toLowerCase()
  return TEXT_EXTENSIONS.some((ext) => lower.endsWith(ext))
}

const joinPath = (dir: string, name: string): string => (dir.endsWith("/") ? dir + name : `${dir}/${name}`)

const byName = (a: { readonly name: string }, b: { readonly name: string }): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0

/** The text files below `dir`, in reading order. */
export const listTextFiles = Effect.fnUntraced(function*(
  dir: string
): Effect.fn.Return<Array<string>, DataSourceNotFound | DataSourceUnreadable, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const out: Array<string> = []
  const walk = Effect.fnUntraced(function*(
    current: string
  ): Effect.fn.Return<void, DataSourceNotFound | DataSourceUnreadable> {
    const entries = yield* fs.readDirectoryEntries(current).pipe(Effect.mapError(fromPlatformError(current)))
    for (const entry of [...entries].sort(byName)) {
      if (entry.name.startsWith(".")) continue
      const path = joinPath(current, entry.name)
      let type = entry.type
      if (type === "SymbolicLink" || type === "Unknown") {
        const info = yield* fs.stat(path).pipe(Effect.mapError(fromPlatformError(path)))
        // A linked directory is not followed (it could loop back); a linked file is read.
        type = info.type === "Directory" ? "SymbolicLink" : info.type
      }
      if (type === "Directory") yield* walk(path)
      else if (type === "File" && isTextFileName(entry.name)) out.push(path)
    }
  })
  yield* walk(dir)
  return out
})

const concatDocuments = (documents: ReadonlyArray<Uint8Array>): Uint8Array => {
  let total = 0
  for (const d of documents) total += d.length
  total += DOCUMENT_SEPARATOR.length * Math.max(0, documents.length - 1)
  const out = new Uint8Array(total)
  let at = 0
  documents.forEach((d, i) => {
    if (i > 0) {
      out.set(DOCUMENT_SEPARATOR, at)
      at += DOCUMENT_SEPARATOR.length
    }
    out.set(d, at)
    at += d.length
  })
  return out
}

/** One text file of at most `limit` bytes. */
export const readTextFile = Effect.fnUntraced(function*(
  path: string,
  limit: number
): Effect.fn.Return<TokenStream, DataSourceNotFound | DataSourceUnreadable | DataSourceEmpty, FileSystem.FileSystem> {
  const bytes = yield* readSourceFile(path, limit)
  if (bytes.length === 0) return yield* new DataSourceEmpty({ path, reason: "the file is empty" })
  return byteStream(path, bytes)
})

/** The text files below `dir`, at most `limit` bytes in all. */
export const readTextDirectory = Effect.fnUntraced(function*(
  dir: string,
  limit: number
): Effect.fn.Return<TokenStream, DataSourceNotFound | DataSourceUnreadable | DataSourceEmpty, FileSystem.FileSystem> {
  const files = yield* listTextFiles(dir)
  const documents: Array<Uint8Array> = []
  let left = limit
  for (const file of files) {
    // Each file may take what the ones before it left of the limit, so the sum stays bounded.
    const bytes = yield* readSourceFile(file, left).pipe(
      Effect.mapError((e) =>
        e._tag === "DataSourceUnreadable" && left < limit
          ? new DataSourceUnreadable({ path: dir, reason: `its text files hold more than ${limit} bytes in all` })
          : e
      )
    )
    left -= bytes.length
    if (bytes.length > 0) documents.push(bytes)
  }
  if (documents.length === 0) {
    return yield* new DataSourceEmpty({
      path: dir,
      reason: `no non-empty ${TEXT_EXTENSIONS.join("/")} files below the directory`
    })
  }
  return byteStream(dir, concatDocuments(documents))
})
