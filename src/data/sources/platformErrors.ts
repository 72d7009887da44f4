/** Maps the platform's file-system failures onto the data layer's typed errors. */
import type { PlatformError } from "effect/PlatformError"
import { DataSourceNotFound, DataSourceUnreadable } from "../errors.ts"

export const fromPlatformError = (path: string) => (error: PlatformError): DataSourceNotFound | DataSourceUnreadable =>
  error.reason._tag === "NotFound"
    ? new DataSourceNotFound({ path })
    : new DataSourceUnreadable({ path, reason: `${error.reason._tag}: ${error.message}` })
