/**
 * An S3-compatible bucket seen as a checkpoint backend. The read side is a `CheckpointReader`, so
 * listing, verifying and loading run the very code local checkpoints do (readCheckpoint.ts,
 * scan.ts): a "directory" is a key prefix, and a step directory exists only once its
 * manifest.json does — the manifest is the commit (objectPublish.ts). The write side is a few
 * object operations that objectPublish.ts builds the commit protocol from.
 *
 * The client takes credentials, region and endpoint from the SDK's standard sources
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, profiles). Transient
 * errors are retried by the SDK itself (`MAX_ATTEMPTS` attempts, exponential backoff).
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
export const MAX_ATTEMPTS = 4

export interface ObjectDisk extends CheckpointReader {
  readonly location: ObjectLocation
  /** `s3://bucket/prefix`: the root every path handed to this disk starts with. */
  readonly root: string
  /** Every key under the directory `dir`, as paths relative to it (`step-…/model.safetensors`). */
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

  const listAll = (dir: string) =>
    Effect.gen(function*() {
      const base = keyOf(dir)
      const prefix = base === "" ? "" : `${base}/`
      const keys: Array<string> = []
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
          if (object.Key !== undefined) keys.push(object.Key.slice(prefix.length))
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined
      } while (token !== undefined)
      return keys
    })

  return {
    location,
    root,
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
        // Multipart above the part size (parts of 8 MiB, 4 at a time); a single PUT below it.
        await new Upload({
          client,
          params: { Bucket, Key: keyOf(path), Body: bytes },
          partSize: 8 * 1024 * 1024,
          queueSize: 4,
          leavePartsOnError: false
        }).done()
      }),

    remove: (path) =>
      call("remove", path, () => client.send(new DeleteObjectCommand({ Bucket, Key: keyOf(path) }))).pipe(Effect.asVoid)
  }
}
