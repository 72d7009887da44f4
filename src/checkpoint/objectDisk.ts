/**
 * An S3-compatible bucket seen as a checkpoint backend. The read side is a `CheckpointReader`, so
 * listing, verifying and loading run the very code local checkpoints do (readCheckpoint.ts,
 * scan.ts): a "directory" is a key prefix, and a step directory exists only once its
 * manifest.json does — the manifest is the commit (objectPublish.ts). The write side is a few
 * object operations that objectPublish.ts builds the commit protocol from.
 *
 * The client takes credentials, region and endpoint from the SDK's standard sources
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, profiles). Transient
 * errors (connection refused or reset, timeouts, HTTP 5xx, throttling) are retried by the SDK's
 * standard retry strategy: `MAX_ATTEMPTS` attempts per request, waiting a random time below
 * 100 ms · 2^k before retry k (500 ms · 2^k when throttled), so at most 1.5 s (7.5 s) in all. Each
 * attempt gives up after `CONNECT_TIMEOUT_MS` without a connection or `IDLE_TIMEOUT_MS` without a
 * byte moving, so a server that stops answering fails the request instead of hanging the run.
 *
 * Listings are not trusted: a key under the location that is no plain relative path (an empty,
 * `.` or `..` segment, a backslash or control character) or an object larger than S3 allows makes
 * `checkListing` refuse the location, and `listAll` never hands such a key to the store.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client
} from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { Effect } from "effect"
import { type ObjectLocation, objectLocationUrl } from "../config/objectLocation.ts"
import type { CheckpointReader } from "./disk.ts"
import { CheckpointIoError, CheckpointStoreUnavailable } from "./errors.ts"
import { MANIFEST_FILE } from "./manifest.ts"

/** Attempts per request, the first included, before a transient error is reported. */
export const MAX_ATTEMPTS = 5
/** An attempt that has no connection after this long fails (and is retried). */
export const CONNECT_TIMEOUT_MS = 5_000
/** An attempt during which no byte moves for this long fails (and is retried). */
export const IDLE_TIMEOUT_MS = 30_000
/** S3's largest object (5 TiB): a listing that claims more comes from no S3 that can be trusted. */
export const MAX_OBJECT_BYTES = 5 * 1024 ** 4

/** One object of a listing: its path relative to the listed directory, and its size. */
export interface ListedObject {
  readonly key: string
  readonly size: number
}

/** Why a listed object may not be used, or undefined when it is an ordinary checkpoint file. */
export const listedObjectProblem = ({ key, size }: ListedObject): string | undefined => {
  // A zero-byte `dir/` key is a folder marker (as consoles create): harmless, and never used.
  const path = key.endsWith("/") && size === 0 ? key.slice(0, -1) : key
  const segments = path.split("/")
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
    return `key ${JSON.stringify(key)} has an empty, "." or ".." segment`
  }
  if (/[\\\u0000-\u001f\u007f]/.test(path)) return `key ${JSON.stringify(key)} has a backslash or control character`
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_OBJECT_BYTES) {
    return `object ${JSON.stringify(key)} claims ${size} bytes; S3 objects hold at most ${MAX_OBJECT_BYTES}`
  }
  return undefined
}

export interface ObjectDisk extends CheckpointReader {
  readonly location: ObjectLocation
  /** `s3://bucket/prefix`: the root every path handed to this disk starts with. */
  readonly root: string
  /** Every object under the directory `dir`, keys relative to it (`step-…/model.safetensors`), unchecked. */
  readonly listObjects: (dir: string) => Effect.Effect<ReadonlyArray<ListedObject>, CheckpointIoError>
  /** The keys under `dir` that `listedObjectProblem` finds nothing wrong with. */
  readonly listAll: (dir: string) => Effect.Effect<ReadonlyArray<string>, CheckpointIoError>
  /** Writes one object (multipart when large); with `onlyIfAbsent`, refused if the key exists. */
  readonly put: (
    path: string,
    bytes: Uint8Array,
    options?: { readonly onlyIfAbsent?: boolean }
  ) => Effect.Effect<void, CheckpointIoError>
  /** Deletes one object; succeeds when it is already gone. */
  readonly remove: (path: string) => Effect.Effect<void, CheckpointIoError>
}

interface AwsError {
  readonly name?: string
  readonly message?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

const statusOf = (error: unknown): number | undefined => (error as AwsError)?.$metadata?.httpStatusCode

const isNotFound = (error: unknown): boolean => {
  const name = (error as AwsError)?.name
  return statusOf(error) === 404 || name === "NotFound" || name === "NoSuchKey"
}

const describe = (error: unknown): string => {
  const { name, message } = (error ?? {}) as AwsError
  const status = statusOf(error)
  const text = message !== undefined && message !== "" && message !== "UnknownError" ? message : name ?? String(error)
  return status === undefined ? text : `${text} (HTTP ${status})`
}

/** A client configured from the environment; a custom endpoint implies path-style addressing. */
export const makeS3Client = (): S3Client => {
  const endpoint = process.env["AWS_ENDPOINT_URL_S3"] ?? process.env["AWS_ENDPOINT_URL"]
  return new S3Client({
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: IDLE_TIMEOUT_MS },
    ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
    // Integrity is the manifest's sha256; the extra checksums the SDK adds by default are not
    // understood by every S3-compatible server.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED"
  })
}

/**
 * Checks that the bucket exists and the credentials may use it (HeadBucket), so a bad location
 * is refused when the store opens rather than at the first save.
 */
export const checkBucket = (
  client: S3Client,
  location: ObjectLocation
): Effect.Effect<void, CheckpointStoreUnavailable> =>
  Effect.tryPromise({
    try: () => client.send(new HeadBucketCommand({ Bucket: location.bucket })),
    catch: (error) => {
      const status = statusOf(error)
      const detail = status === 404
        ? `bucket ${location.bucket} does not exist`
        : status === 403
        ? `access to bucket ${location.bucket} is denied (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`
        : describe(error)
      return new CheckpointStoreUnavailable({ location: objectLocationUrl(location), detail })
    }
  }).pipe(Effect.asVoid)

/**
 * Refuses a location whose listing holds an object the store must not touch or read (see
 * `listedObjectProblem`): checked when the store opens, before any step.
 */
export const checkListing = (disk: ObjectDisk): Effect.Effect<void, CheckpointStoreUnavailable | CheckpointIoError> =>
  Effect.gen(function*() {
    for (const object of yield* disk.listObjects(disk.root)) {
      const problem = listedObjectProblem(object)
      if (problem !== undefined) {
        return yield* new CheckpointStoreUnavailable({
          location: disk.root,
          detail: `its listing is refused: ${problem}`
        })
      }
    }
  })

export const makeObjectDisk = (client: S3Client, location: ObjectLocation): ObjectDisk => {
  const root = objectLocationUrl(location)
  const Bucket = location.bucket

  /** The key of a path under `root` (paths are built by `joinLocation` from `root`). */
  const keyOf = (path: string): string => {
    const rest = path === root ? "" : path.startsWith(`${root}/`) ? path.slice(root.length + 1) : undefined
    if (rest === undefined) throw new Error(`${path} is not under ${root}`)
    return location.prefix === "" ? rest : rest === "" ? location.prefix : `${location.prefix}/${rest}`
  }

  const call = <A>(operation: string, path: string, run: () => Promise<A>) =>
    Effect.tryPromise({
      try: run,
      catch: (error) => new CheckpointIoError({ operation, path, detail: describe(error) })
    })

  /** HeadObject: the object's size, or undefined when there is none. */
  const head = (path: string) =>
    Effect.tryPromise({
      try: () => client.send(new HeadObjectCommand({ Bucket, Key: keyOf(path) })),
      catch: (error) => error
    }).pipe(
      Effect.map((out) => ({ size: Number(out.ContentLength ?? 0) })),
      Effect.catch((error) =>
        isNotFound(error)
          ? Effect.succeed(undefined)
          : Effect.fail(new CheckpointIoError({ operation: "stat", path, detail: describe(error) }))
      )
    )

  const listObjects = (dir: string) =>
    Effect.gen(function*() {
      const base = keyOf(dir)
      const prefix = base === "" ? "" : `${base}/`
      const objects: Array<ListedObject> = []
      let token: string | undefined
      do {
        const page = yield* call("list", dir, () =>
          client.send(
            new ListObjectsV2Command({
              Bucket,
              Prefix: prefix,
              ...(token === undefined ? {} : { ContinuationToken: token })
            })
          ))
        for (const object of page.Contents ?? []) {
          // A key outside the prefix asked for (no honest server sends one) is listed as "..", which the checks refuse.
          const key = object.Key === undefined
            ? ""
            : object.Key.startsWith(prefix)
            ? object.Key.slice(prefix.length)
            : ".."
          objects.push({ key, size: Number(object.Size ?? 0) })
        }
        const next = page.IsTruncated === true ? page.NextContinuationToken : undefined
        // A server that hands back the token it was given would page forever.
        if (next !== undefined && next === token) {
          return yield* new CheckpointIoError({
            operation: "list",
            path: dir,
            detail: "the server repeats its page token"
          })
        }
        token = next
      } while (token !== undefined)
      return objects
    })

  const listAll = (dir: string) =>
    Effect.map(
      listObjects(dir),
      (objects) => objects.filter((object) => listedObjectProblem(object) === undefined).map((object) => object.key)
    )

  return {
    location,
    root,
    listObjects,
    listAll,

    // A directory is listed only once it holds its manifest: an upload that never committed is
    // not a checkpoint, not even a broken one.
    listDirectories: (dir) =>
      Effect.map(listAll(dir), (keys) => [
        ...new Set(
          keys.filter((key) => key.split("/").length === 2 && key.endsWith(`/${MANIFEST_FILE}`)).map((key) =>
            key.split("/")[0]!
          )
        )
      ]),

    stat: (path) =>
      Effect.gen(function*() {
        const file = yield* head(path)
        if (file !== undefined) return { kind: "File" as const, size: file.size }
        const manifest = yield* head(`${path}/${MANIFEST_FILE}`)
        return manifest === undefined ? undefined : { kind: "Directory" as const, size: 0 }
      }),

    readFile: (path) =>
      call("read", path, async () => {
        const out = await client.send(new GetObjectCommand({ Bucket, Key: keyOf(path) }))
        if (out.Body === undefined) throw new Error("the response has no body")
        return out.Body.transformToByteArray()
      }),

    put: (path, bytes, options) =>
      call("write", path, async () => {
        if (options?.onlyIfAbsent === true) {
          await client.send(new PutObjectCommand({ Bucket, Key: keyOf(path), Body: bytes, IfNoneMatch: "*" }))
          return
        }
        // Multipart above the part size (parts of 8 MiB, 4 at a time); a single PUT below it. Each
        // request carries S3's own SHA-256 checksum, which a server that supports it verifies
        // before it stores the bytes (the manifest's sha256 is verified on every read regardless).
        await new Upload({
          client,
          params: { Bucket, Key: keyOf(path), Body: bytes, ChecksumAlgorithm: "SHA256" },
          partSize: 8 * 1024 * 1024,
          queueSize: 4,
          leavePartsOnError: false
        }).done()
      }),

    remove: (path) =>
      call("remove", path, () => client.send(new DeleteObjectCommand({ Bucket, Key: keyOf(path) }))).pipe(Effect.asVoid)
  }
}
