/**
 * The refined numbers that configurations and stored records are built from. Each is defined once,
 * so a rule and its message ("Expected a value greater than 0") read the same wherever it applies.
 */
import { Schema } from "effect"

/** 1, 2, 3, …: sizes and counts that must not be empty. */
export const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/**
 * 1 … 2³¹ − 1: the sizes of a run (widths, lengths, batch sizes, counts). Products of two such
 * sizes stay exact in floating point, and each fits the 32-bit indices typed arrays and kernels
 * use; `config/MemoryBudget.ts` checks the products that become tensors.
 */
export const Size = PositiveInt.check(Schema.isLessThanOrEqualTo(2 ** 31 - 1))

/** 0, 1, 2, …: steps, cursors, counters, tensor dimensions. */
export const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** A finite number above 0: learning rates, epsilons, scales. */
export const PositiveFinite = Schema.Finite.check(Schema.isGreaterThan(0))

/** A finite number of at least 0: weight decay, thresholds, tolerances. */
export const NonNegativeFinite = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

/** [0, 1]: factors and ratios where both ends are meaningful. */
export const UnitInterval = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))

/** [0, 1): a share that always leaves something over (momentum, Adam's betas, the held-out data). */
export const ProperFraction = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMaximum: true }))
