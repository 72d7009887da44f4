/**
 * A fault a test can inject into a rank, to check that a failing rank stops the run with a typed
 * error and loses nothing: `CONTINUUM_RANK_FAULT=<rank>:<update>:<throw|exit>` makes that rank
 * throw, or end its thread, when it is asked for that update. Unset, it does nothing.
 */
import { exit } from "node:process"

const FAULT = /^(\d+):(\d+):(throw|exit)$/

export const injectedFault = (rank: number, update: number): void => {
  const match = FAULT.exec(process.env.CONTINUUM_RANK_FAULT ?? "")
  if (match === null || Number(match[1]) !== rank || Number(match[2]) !== update) return
  if (match[3] === "exit") exit(3)
  throw new Error(`injected fault (CONTINUUM_RANK_FAULT) at update ${update}`)
}
