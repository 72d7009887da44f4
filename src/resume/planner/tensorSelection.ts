/** Choosing model tensors by name with the policy's include and exclude globs. */
import type { TensorSelection } from "../policy.ts"

const escapeRegExp = (text: string): string => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&")

/** A glob over parameter names: `*` matches any run of characters (dots included), all else literally. */
export const globMatcher = (pattern: string): (name: string) => boolean => {
  const regexp = new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`, "s")
  return (name) => regexp.test(name)
}

export interface Selection {
  /** Names the selection takes, in the given order. */
  readonly selected: ReadonlyArray<string>
  /** Names left out (not included, or excluded). */
  readonly excluded: ReadonlyArray<string>
  /** Patterns that match no name: likely typos. */
  readonly unmatched: ReadonlyArray<{ readonly list: "include" | "exclude"; readonly pattern: string }>
}

/** Applies include (default: everything) then exclude patterns to `names`. */
export const selectTensors = (names: ReadonlyArray<string>, selection: TensorSelection | undefined): Selection => {
  const include = (selection?.include ?? ["*"]).map((pattern) => ({ pattern, match: globMatcher(pattern) }))
  const exclude = (selection?.exclude ?? []).map((pattern) => ({ pattern, match: globMatcher(pattern) }))
  const selected: Array<string> = []
  const excluded: Array<string> = []
  for (const name of names) {
    if (include.some((p) => p.match(name)) && !exclude.some((p) => p.match(name))) selected.push(name)
    else excluded.push(name)
  }
  const unmatched = [
    ...include.filter((p) => !names.some(p.match)).map((p) => ({ list: "include" as const, pattern: p.pattern })),
    ...exclude.filter((p) => !names.some(p.match)).map((p) => ({ list: "exclude" as const, pattern: p.pattern }))
  ]
  return { selected, excluded, unmatched }
}
