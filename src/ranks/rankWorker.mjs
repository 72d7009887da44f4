// The entry of a rank's worker thread. It loads the rank's module given in workerData: compiled
// JavaScript in an installed package, TypeScript in a checkout run from its sources — then through
// tsx, as the process itself was started (bin/continuum, the tests).
import { workerData } from "node:worker_threads"

if (workerData.entry.endsWith(".ts")) {
  const { register } = await import("tsx/esm/api")
  register()
}
await import(workerData.entry)
