/**
 * `checkpoint.location`: where a run's checkpoints live when not under `<runDir>/checkpoints` —
 * an S3-compatible bucket and a key prefix, `s3://bucket/prefix`. Parsed here so that a bad
 * location is refused with the configuration, before any step.
 */
import { Schema } from "effect"

export interface ObjectLocation {
  readonly bucket: string
  /** Key prefix without leading or trailing slash; empty for the bucket's root. */
  readonly prefix: string
}

/** S3's rules for bucket names (the common subset every compatible server accepts). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/** Whether a string names an object-store location rather than a local path. */
export const isObjectLocation = (location: string): boolean => location.startsWith("s3://")

/** The bucket and prefix of `s3://bucket/prefix`, or why it is not a valid location. */
export const parseObjectLocation = (location: string): ObjectLocation | string => {
  if (!isObjectLocation(location)) return `must be s3://bucket/prefix, got ${JSON.stringify(location)}`
  const rest = location.slice("s3://".length)
  const slash = rest.indexOf("/")
  const bucket = slash === -1 ? rest : rest.slice(0, slash)
  const prefix = slash === -1 ? "" : rest.slice(slash + 1).replace(/\/+$/, "")
  if (!BUCKET.test(bucket) || bucket.includes("..")) {
    return `bucket ${JSON.stringify(bucket)} is not a valid bucket name (3–63 of a-z 0-9 . -)`
  }
  if (prefix !== "") {
    const bad = prefix.split("/").find((segment) => segment === "" || segment === "." || segment === "..")
    if (bad !== undefined) return `prefix ${JSON.stringify(prefix)} has an empty, "." or ".." segment`
    if (/[\u0000-\u001f\u007f]/.test(prefix)) return `prefix ${JSON.stringify(prefix)} has a control character`
  }
  return { bucket, prefix }
}

/** The URL of a location, normalised (no trailing slash). */
export const objectLocationUrl = ({ bucket, prefix }: ObjectLocation): string =>
  prefix === "" ? `s3://${bucket}` : `s3://${bucket}/${prefix}`

/** A string that is a valid `s3://bucket/prefix`. */
export const ObjectLocationString = Schema.String.check(Schema.makeFilter((location: string) => {
  const parsed = parseObjectLocation(location)
  return typeof parsed === "string" ? parsed : undefined
}))
