import { createHash } from "node:crypto"

/** The sha256 of `bytes` (or of a string's UTF-8), as 64 lowercase hex digits. */
export const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex")
