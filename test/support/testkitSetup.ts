/**
 * Shared setup of the resume test kit's own tests (src/testkit/): the run to check, and
 * compositions that deliberately break a resume promise so the kit's checks can be seen to fail.
 */
import { Effect, Layer } from "effect"
import * as path from "node:path"
import { Start, type StartShape } from "../../src/config/Start.ts"
import type { RunBuilder } from "../../src/testkit/index.ts"
import { runLayer } from "../../src/train/layers.ts"
import { tempDir, tinyConfig } from "./tinyRun.ts"

/** `runLayer` with the planned start altered: a composition that breaks a resume promise. */
export const tampered = (alter: (start: StartShape) => StartShape): RunBuilder => (config, start) =>
  runLayer(
    config,
    Layer.effect(
      Start,
      Effect.gen(function*() {
        const planned = yield* Start
        return planned.resumed === undefined ? planned : alter(planned)
      })
    ).pipe(Layer.provide(start))
  )

/** A tiny run for the kit to check; the kit trains in directories of its own, so `runDir` is never used. */
export const kitConfig = (overrides: Record<string, unknown> = {}) =>
  tinyConfig(path.join(tempDir(), "unused"), overrides)

/** The typed failure of a check that must fail. */
export const expectFailure = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)
