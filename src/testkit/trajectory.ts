/**
 * The trajectory of a run: what exact resume must reproduce bit for bit. Wall-clock fields,
 * checkpoint events and the data-parallel degree are left out, as exact allows them to differ.
 */
import { Schema } from "effect"
import { CheckpointState } from "../checkpoint/checkpointState.ts"
import type { TrainEvent } from "../train/events.ts"
import { type Difference, show } from "./compare.ts"

interface TrajectoryEvent {
  readonly step: number
  readonly kind: "Step" | "Eval"
  readonly values: Record<string, number>
}
export type Trajectory = ReadonlyArray<TrajectoryEvent>

/** Step and evaluation events without wall-clock fields; checkpoint events depend on the cadence. */
export const trajectoryOf = (events: ReadonlyArray<TrainEvent>, withEval: boolean): Trajectory =>
  events.flatMap((e): Array<TrajectoryEvent> =>
    e._tag === "Step"
      ? [{
        step: e.step,
        kind: "Step" as const,
        values: { loss: e.loss, lr: e.lr, gradNorm: e.gradNorm, tokens: e.tokens }
      }]
      : e._tag === "Eval" && withEval
      ? [{ step: e.step, kind: "Eval" as const, values: { valLoss: e.valLoss } }]
      : []
  )

/** The first event that differs in step, kind or any value (bit-exact, -0 ≠ 0). */
export const firstEventDifference = (expected: Trajectory, actual: Trajectory): Difference | undefined => {
  const describe = (
    e: Trajectory[number] | undefined
  ) => (e === undefined ? "no event" : `${e.kind} event of step ${e.step}`)
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const a = expected[i]
    const b = actual[i]
    if (a === undefined || b === undefined || a.kind !== b.kind || a.step !== b.step) {
      return { step: (a ?? b)!.step, field: `event ${i + 1}`, expected: describe(a), actual: describe(b) }
    }
    for (const [field, value] of Object.entries(a.values)) {
      if (!Object.is(value, b.values[field])) {
        return { step: a.step, field, expected: show(value), actual: show(b.values[field]) }
      }
    }
  }
  return undefined
}

const encodeState = Schema.encodeSync(CheckpointState)

/** The checkpoint state that belongs to the trajectory: everything but the data-parallel degree. */
export const trajectoryState = (state: CheckpointState): unknown => {
  const encoded = encodeState(state) as { data: { geometry: Record<string, unknown> } }
  const { dp: _dp, ...geometry } = encoded.data.geometry
  return { ...encoded, data: { ...encoded.data, geometry } }
}
