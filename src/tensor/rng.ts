/**
 * Counter-based random numbers: every draw is a pure function of `(seed, stream, counter)`.
 *
 * There is no generator state to save or restore — a checkpoint only needs the counters, and any
 * single draw can be reproduced from its key. The mixing function is a 32-bit avalanche hash
 * (lowbias32 constants) applied over the key words in sequence; each round is a bijection of the
 * running state, so distinct keys diverge immediately.
 */

const mix32 = (x: number): number => {
  x ^= x >>> 16
  x = Math.imul(x, 0x7feb352d)
  x ^= x >>> 15
  x = Math.imul(x, 0x846ca68b)
  x ^= x >>> 16
  return x >>> 0
}

/** 32 random bits for the key `(seed, stream, counter)`; counters up to 2^53 are distinct keys. */
export const bits32 = (seed: number, stream: number, counter: number): number => {
  const lo = counter >>> 0
  const hi = Math.floor(counter / 4294967296) >>> 0
  let h = mix32((seed >>> 0) ^ 0x9e3779b9)
  h = mix32(h ^ (stream >>> 0))
  h = mix32(h ^ Math.imul(hi, 0x85ebca6b))
  h = mix32(h ^ lo)
  return mix32(h ^ 0x27d4eb2f)
}

/** Uniform in [0, 1) with 53 random bits, from counters `2c` and `2c + 1`. */
export const uniform = (seed: number, stream: number, counter: number): number => {
  const a = bits32(seed, stream, 2 * counter) >>> 5 // 27 bits
  const b = bits32(seed, stream, 2 * counter + 1) >>> 6 // 26 bits
  return (a * 67108864 + b) / 9007199254740992
}

/** Standard normal by Box–Muller from the uniforms at `counter` and `counter + 2^52`-shifted stream. */
export const normal = (seed: number, stream: number, counter: number): number => {
  const u1 = uniform(seed, stream, counter)
  const u2 = uniform(seed, (stream ^ 0x5bd1e995) >>> 0, counter)
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2)
}

/** A stable 32-bit stream id for a name (FNV-1a), e.g. one stream per parameter for init. */
export const streamId = (name: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return mix32(h)
}

/** Uniform integer in [0, n), n ≤ 2^32, without modulo bias worth measuring at our sizes. */
export const uniformInt = (seed: number, stream: number, counter: number, n: number): number =>
  Math.floor(uniform(seed, stream, counter) * n)
