/** An update that was applied and left every parameter and optimizer state tensor finite. */
export interface StepResult {
  readonly _tag: "Updated"
  readonly loss: number
  readonly gradNorm: number
}

/**
 * An update that met a NaN or ±∞: in the loss or the gradient norm, before anything was applied,
 * or in a parameter or optimizer state tensor after the update (`applied`).
 */
export interface NonFiniteStep {
  readonly _tag: "NonFinite"
  readonly quantity: string
  readonly value: number
  readonly applied: boolean
}

export type StepOutcome = StepResult | NonFiniteStep
