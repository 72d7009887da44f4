/**
 * A reusable barrier for the ranks of one run, over a few 32-bit integers of shared memory, and
 * the abort flag that releases it: a rank that fails (or the run, when a rank's thread is gone)
 * raises the flag, and every rank waiting at the barrier wakes and gives up the step instead of
 * waiting for a partner that will never come.
 */

const ARRIVED = 0
const GENERATION = 1
const ABORTED = 2

/** Int32 slots the barrier needs. */
export const CONTROL_SLOTS = 3

/** The step was given up because another rank failed; the failing rank reports why. */
export class RankAborted extends Error {
  constructor() {
    super("the step was given up because another rank failed")
  }
}

// A wait wakes up by notification; the timeout only bounds how long a missed one could delay it.
const WAIT_MS = 1000

export interface Barrier {
  /** Returns once all `parties` ranks have arrived; throws RankAborted if the run aborts meanwhile. */
  readonly arrive: () => void
}

export const makeBarrier = (control: Int32Array, parties: number): Barrier => ({
  arrive: () => {
    // The generation is read before arriving: the last rank to arrive advances it, and that
    // change is what every earlier one waits for.
    const generation = Atomics.load(control, GENERATION)
    if (Atomics.load(control, ABORTED) !== 0) throw new RankAborted()
    if (Atomics.add(control, ARRIVED, 1) === parties - 1) {
      Atomics.store(control, ARRIVED, 0)
      Atomics.add(control, GENERATION, 1)
      Atomics.notify(control, GENERATION)
      return
    }
    while (Atomics.load(control, GENERATION) === generation) {
      Atomics.wait(control, GENERATION, generation, WAIT_MS)
    }
    if (Atomics.load(control, ABORTED) !== 0) throw new RankAborted()
  }
})

/** Raises the abort flag and wakes every rank waiting at the barrier. Idempotent. */
export const abortRanks = (control: Int32Array): void => {
  Atomics.store(control, ABORTED, 1)
  Atomics.add(control, GENERATION, 1)
  Atomics.notify(control, GENERATION)
}

export const isAborted = (control: Int32Array): boolean => Atomics.load(control, ABORTED) !== 0
