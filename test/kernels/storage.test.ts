/**
 * The cpu backend's tensor storage: allocations in its shared WebAssembly memory, and kernels
 * that use them in place. Working in place must change no number: every kernel gives the same
 * bits whether its operands live in the storage (used where they are) or on the JavaScript heap
 * (copied in and out), including outputs that alias inputs and outputs too small for a kernel's
 * padded layout (which are then staged).
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { makeCpuKernels } from "../../src/kernels/cpu/index.ts"
import { makeWasmStorage, WasmStorageFull } from "../../src/kernels/cpu/wasm/storage.ts"
import type { KernelsShape } from "../../src/kernels/KernelsShape.ts"
import { uniform } from "../../src/tensor/rng.ts"

const values = (n: number, stream: number): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = 2 * uniform(23, stream, i) - 1
  return out
}
const bitsOf = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length)
const assertSameBits = (got: Float32Array, want: Float32Array, what: string): void => {
  assert.strictEqual(got.length, want.length, `${what}: length`)
  const a = bitsOf(got)
  const b = bitsOf(want)
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`)
}

/** The same kernel call twice: on storage-resident copies of the operands, and on heap copies. */
const residentAndHeap = (
  kernels: KernelsShape,
  reference: KernelsShape,
  operands: ReadonlyArray<Float32Array>,
  call: (k: KernelsShape, xs: ReadonlyArray<Float32Array>) => void,
  what: string
): void => {
  const resident = operands.map((x) => {
    const copy = kernels.storage.allocate(x.length)
    copy.set(x)
    return copy
  })
  const heap = operands.map((x) => x.slice())
  call(kernels, resident)
  call(reference, heap)
  resident.forEach((x, i) => assertSameBits(x, heap[i]!, `${what}: operand ${i}`))
}

describe("the cpu backend's storage", () => {
  it("allocations are zeroed, 64-byte aligned, disjoint, and reused zeroed after release", () => {
    const storage = makeWasmStorage()
    const sizes = [1, 3, 16, 17, 1000, 70_000, 5]
    const blocks = sizes.map((n) => storage.allocate(n))
    blocks.forEach((x, i) => {
      assert.strictEqual(x.length, sizes[i])
      assert.strictEqual(x.byteOffset % 64, 0)
      assert.isTrue(x.every((v) => v === 0))
      assert.isAtLeast(storage.writable(x, Math.ceil(sizes[i]! / 16) * 16), 0, "owns its padding")
      x.fill(i + 1)
    })
    const spans = blocks.map((x) => [x.byteOffset, x.byteOffset + Math.ceil(x.length / 16) * 64] as const)
      .sort((a, b) => a[0] - b[0])
    for (let i = 1; i < spans.length; i++) assert.isAtMost(spans[i - 1]![1], spans[i]![0], "disjoint")
    blocks.forEach((x, i) => assert.isTrue(x.every((v) => v === i + 1), "no allocation wrote another"))

    storage.release(blocks[4]!)
    const again = storage.allocate(1000)
    assert.strictEqual(again.byteOffset, blocks[4]!.byteOffset, "the released block is reused")
    assert.isTrue(again.every((v) => v === 0))
  })

  it("two storages over one memory (as two threads) never hand out the same bytes; views of another's tensors are in place", () => {
    const first = makeWasmStorage()
    const second = makeWasmStorage(first.memory)
    const a = Array.from({ length: 40 }, (_, i) => first.allocate(5000 + i))
    const b = Array.from({ length: 40 }, (_, i) => second.allocate(7000 + i))
    const spans = [...a, ...b].map((x) => [x.byteOffset, x.byteOffset + x.length * 4] as const)
      .sort((x, y) => x[0] - y[0])
    for (let i = 1; i < spans.length; i++) assert.isAtMost(spans[i - 1]![1], spans[i]![0])

    const seen = second.view(a[3]!.byteOffset, a[3]!.length)
    a[3]!.fill(7)
    assert.strictEqual(seen[10], 7, "the same memory")
    assert.strictEqual(second.writable(seen, seen.length), a[3]!.byteOffset)
    assert.strictEqual(second.writable(new Float32Array(seen.length), seen.length), -1, "a heap array is not")
  })

  it("refuses to grow past its 2 GiB before touching the memory", () => {
    const storage = makeWasmStorage()
    const before = storage.memory.buffer.byteLength
    assert.throws(() => storage.allocate(2 ** 29 + 16), WasmStorageFull)
    assert.strictEqual(storage.memory.buffer.byteLength, before)
  })

  it("every float32 kernel gives the same bits on resident operands as on heap copies (property: sizes)", () => {
    const kernels = makeCpuKernels()
    const reference = makeCpuKernels()
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        (m, n, k, transA, transB, accumulate, seed) => {
          const [a, b, c] = [values(m * k, seed), values(k * n, seed + 1), values(m * n, seed + 2)]
          // C's padded layout needs ⌈m/4⌉·4 × ⌈n/8⌉·8 floats: ragged sizes have C staged. C is
          // allocated first, so a kernel writing past its room would overwrite A or B, which are compared too.
          residentAndHeap(kernels, reference, [c, a, b], (kk, [z, x, y]) => {
            kk.matmul(x!, y!, z!, m, n, k, transA, transB, accumulate)
          }, `matmul ${m}×${n}×${k}`)
          // An output that aliases an input is staged: the product is of the values before the call.
          residentAndHeap(kernels, reference, [values(m * m, seed + 7), values(m * m, seed + 8)], (kk, [x, y]) => {
            kk.matmul(x!, y!, x!, m, m, m, transA, transB, accumulate)
          }, `matmul ${m}×${m}×${m} into A`)
          const len = m * n
          residentAndHeap(kernels, reference, [c, c.map((v) => v * 3)], (kk, [x, y]) => {
            kk.add(x!, y!, x!) // out aliases a
            kk.mul(x!, y!, y!) // out aliases b
            kk.scale(x!, 1 / 3, x!)
            kk.addInPlace(y!, x!)
            kk.silu(x!, y!)
            kk.siluBackward(x!, y!, x!, accumulate)
          }, `elementwise ${len}`)
          const dim = 4 * n
          const rows = m
          residentAndHeap(
            kernels,
            reference,
            [values(rows * dim, seed + 3), values(dim, seed + 4), values(rows, 0), values(rows * dim, seed + 5)],
            (kk, [x, w, rstd, out]) => {
              kk.rmsnorm(x!, w!, out!, rstd!, rows, dim, 1e-5)
              const dw = new Float32Array(dim)
              kk.rmsnormBackward(x!, w!, rstd!, out!, x!, dw, rows, dim, accumulate) // dx aliases x
              out!.set(dw.subarray(0, Math.min(dim, out!.length)))
            },
            `rmsnorm ${rows}×${dim}`
          )
          const vocab = 4 * k
          const targets = Int32Array.from({ length: rows }, (_, r) => (r * 7 + seed) % vocab)
          residentAndHeap(
            kernels,
            reference,
            [values(rows * vocab, seed + 6), values(rows * vocab, 0)],
            (kk, [x, d]) => {
              d![0] = kk.crossEntropy(x!, targets, d!, rows, vocab, 1 / rows)
            },
            `cross-entropy ${rows}×${vocab}`
          )
        }
      ),
      { numRuns: 40 }
    )
  })

  it("attention, RoPE, AdamW, SGD and the embedding give the same bits on resident operands", () => {
    const kernels = makeCpuKernels()
    const reference = makeCpuKernels()
    const [B, T, H, hd] = [2, 16, 2, 8]
    const n = B * T * H * hd
    const saved = kernels.attentionSavedLength(new Float32Array(0), B, T, H, hd)
    residentAndHeap(
      kernels,
      reference,
      [values(n, 1), values(n, 2), values(n, 3), values(n, 4), new Float32Array(saved), new Float32Array(n)],
      (kk, [q, k, v, dOut, lse, out]) => {
        kk.rope(q!, q!, B * T, T, H, hd, 10000, false)
        kk.attention(q!, k!, v!, lse!, out!, B, T, H, hd)
        kk.attentionBackward(q!, k!, v!, out!, lse!, dOut!, q!.slice(), k!.slice(), dOut!, B, T, H, hd)
        kk.rope(dOut!, k!, B * T, T, H, hd, 10000, true)
      },
      "attention"
    )
    residentAndHeap(
      kernels,
      reference,
      [values(300, 5), values(300, 6), values(300, 0), values(300, 0)],
      (kk, [p, g, m, v]) => {
        for (let step = 1; step <= 3; step++) kk.adamw(p!, g!, m!, v!, 1e-3, 0.9, 0.95, 1e-8, 0.1, step)
        for (let step = 1; step <= 3; step++) kk.sgd(p!, g!, m!, 0.01, 0.9, step === 2, 0.01, step)
      },
      "optimizers"
    )
    const ids = Int32Array.from({ length: 24 }, (_, i) => (i * 5) % 10)
    residentAndHeap(kernels, reference, [values(10 * 8, 7), new Float32Array(24 * 8)], (kk, [table, out]) => {
      kk.embedding(table!, ids, out!, 8)
      kk.embeddingBackward(out!, ids, table!, 8)
    }, "embedding")
  })
})
