/**
 * JSON parsing for files a user hands in (configurations, policies): the nesting depth is checked
 * before `JSON.parse` and everything downstream (schema decoding, cloning) walks the value
 * recursively, so a document nested 100 000 levels deep is refused with a message instead of
 * overflowing the stack.
 */
import { Result } from "effect"

/** Deeper than any configuration or policy needs (they nest 3 levels). */
export const MAX_JSON_DEPTH = 64

/** The deepest nesting of arrays and objects in `text`, brackets inside strings not counted. */
export const jsonDepth = (text: string): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      depth++
      if (depth > deepest) deepest = depth
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return deepest
}

/** Parses `text` as JSON nested at most `maxDepth` levels; the error is a one-line reason. */
export const parseJson = (text: string, maxDepth: number = MAX_JSON_DEPTH): Result.Result<unknown, string> => {
  const depth = jsonDepth(text)
  if (depth > maxDepth) return Result.fail(`nested ${depth} levels deep, more than the ${maxDepth} allowed`)
  try {
    return Result.succeed(JSON.parse(text) as unknown)
  } catch (e) {
    return Result.fail(`not valid JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** What a JSON value is, for messages: `an object`, `an array`, `a string`, `null`… */
export const jsonKind = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
    ? "an array"
    : typeof value === "object"
    ? "an object"
    : `a ${typeof value}`

/** A plain JSON object (not null, not an array). */
export const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)
