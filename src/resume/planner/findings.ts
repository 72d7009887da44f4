import type { RejectionReason } from "../plan.ts"

/**
 * Reasons and warnings, collected across all components. Each check adds what it finds and
 * carries on, so a rejected plan lists every reason at once rather than the first.
 */
export interface Findings {
  readonly reasons: Array<RejectionReason>
  readonly warnings: Array<string>
}
