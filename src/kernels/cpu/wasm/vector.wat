;; Single-precision elementwise and row kernels with WebAssembly SIMD (f32x4), compiled to
;; vectorWasm.generated.ts by scripts/build-wasm.ts. The module imports the kernels instance's
;; shared memory; the TypeScript side (vectorWasm.ts, operandHeap.ts) passes the byte offsets of
;; operands that live there and copies the others in (and results out), each at a 16-byte aligned
;; offset and padded to a whole number of f32x4 vectors — as every tensor of the storage is. Because
;; every operand is padded, the elementwise loops run over whole vectors and never need a scalar
;; tail (padding lanes compute garbage in padding that belongs to the operand). Row kernels require the row length
;; to be a multiple of 4 (the caller falls back to TypeScript otherwise).
;;
;; add, mul, scale and RoPE (at the end of the module) give the TypeScript kernels' bits exactly:
;; the sum or product of two floats rounded once is what the double arithmetic rounded to float32
;; gives, and scale and RoPE compute in f64x2 lanes, in the TypeScript kernels' order.
;;
;; All pointers are byte offsets; n counts floats. Reductions (sums of squares, dot products and
;; the softmax denominator) accumulate in f64x2 lanes, so they are as accurate as the float64
;; sums of the TypeScript kernels up to the order of addition. Small helpers are written out at
;; each use (high lanes promoted by a shuffle, two f64x2 demoted and joined by one): Node 20's V8
;; does not inline wasm calls, and a call per vector measurably slowed the step (≈2%). $exp4
;; stays a function: it is long enough for the call not to matter as much.
;;
;; exp has no SIMD instruction: $exp4 is the Cephes expf method (range reduction by n·ln2 with a
;; two-part ln2, a degree-6 polynomial on |r| ≤ ln2/2, scaling by 2ⁿ through the exponent bits),
;; accurate to a few units in the last place for x in [-87.3, 88.3]; inputs are clamped to that
;; range so 2ⁿ stays a normal float (exp(-87.3) ≈ 1.2e-38 stands in for anything smaller and
;; exp(88.3) ≈ 2.2e38 for anything larger).
(module
  (import "env" "memory" (memory 1 32768 shared))

  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x
      (f32x4.min
        (f32x4.max (local.get $x) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))
        (v128.const f32x4 88.3 88.3 88.3 88.3)))
    (local.set $n
      (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
    (local.set $r
      (f32x4.sub
        (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
        (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    ;; 1 + r + p·r²
    (local.set $p
      (f32x4.add
        (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
        (v128.const f32x4 1 1 1 1)))
    ;; · 2ⁿ, n in [-126, 127]
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; exp of two vectors at once (the body of $exp4 twice, interleaved): half the calls, and
  ;; two independent chains for the processor to overlap.
  (func $exp8 (param $x1 v128) (param $x2 v128) (result v128 v128)
    (local $n1 v128) (local $r1 v128) (local $p1 v128) (local $n2 v128) (local $r2 v128) (local $p2 v128)
    (local.set $x1
      (f32x4.min
        (f32x4.max (local.get $x1) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))
        (v128.const f32x4 88.3 88.3 88.3 88.3)))
    (local.set $x2
      (f32x4.min
        (f32x4.max (local.get $x2) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))
        (v128.const f32x4 88.3 88.3 88.3 88.3)))
    (local.set $n1
      (f32x4.nearest (f32x4.mul (local.get $x1) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
    (local.set $n2
      (f32x4.nearest (f32x4.mul (local.get $x2) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
    (local.set $r1
      (f32x4.sub
        (f32x4.sub (local.get $x1) (f32x4.mul (local.get $n1) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
        (f32x4.mul (local.get $n1) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $r2
      (f32x4.sub
        (f32x4.sub (local.get $x2) (f32x4.mul (local.get $n2) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
        (f32x4.mul (local.get $n2) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p1 (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p2 (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1))
      (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $r2))
      (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1))
      (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $r2))
      (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1))
      (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $r2))
      (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1))
      (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $r2))
      (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p1 (f32x4.add (f32x4.mul (local.get $p1) (local.get $r1))
      (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p2 (f32x4.add (f32x4.mul (local.get $p2) (local.get $r2))
      (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p1
      (f32x4.add
        (f32x4.add (f32x4.mul (local.get $p1) (f32x4.mul (local.get $r1) (local.get $r1))) (local.get $r1))
        (v128.const f32x4 1 1 1 1)))
    (local.set $p2
      (f32x4.add
        (f32x4.add (f32x4.mul (local.get $p2) (f32x4.mul (local.get $r2) (local.get $r2))) (local.get $r2))
        (v128.const f32x4 1 1 1 1)))
    (f32x4.mul (local.get $p1)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n1)) (v128.const i32x4 127 127 127 127)) (i32.const 23)))
    (f32x4.mul (local.get $p2)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n2)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; Sum of the two f64 lanes.
  (func $hsum2 (param $v v128) (result f64)
    (f64.add (f64x2.extract_lane 0 (local.get $v)) (f64x2.extract_lane 1 (local.get $v))))

  ;; out = a + b over n floats (rounded up to whole vectors)
  (func (export "add") (param $a i32) (param $b i32) (param $out i32) (param $n i32)
    (local $i i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (if (i32.eqz (local.get $n)) (then (return)))
    (loop $l
      (v128.store (i32.add (local.get $out) (local.get $i))
        (f32x4.add (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $end)))))

  ;; out = a ⊙ b
  (func (export "mul") (param $a i32) (param $b i32) (param $out i32) (param $n i32)
    (local $i i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (if (i32.eqz (local.get $n)) (then (return)))
    (loop $l
      (v128.store (i32.add (local.get $out) (local.get $i))
        (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $end)))))

  ;; out = x / (1 + exp(-x))
  (func (export "silu") (param $x i32) (param $out i32) (param $n i32)
    (local $i i32) (local $end i32) (local $v v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (if (i32.eqz (local.get $n)) (then (return)))
    (loop $l
      (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
      (v128.store (i32.add (local.get $out) (local.get $i))
        (f32x4.div (local.get $v)
          (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $v))))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $end)))))

  ;; g = dy·s·(1 + x·(1 − s)) with s = σ(x); dx = g, or dx += g when acc
  (func (export "siluBackward") (param $x i32) (param $dy i32) (param $dx i32) (param $n i32) (param $acc i32)
    (local $i i32) (local $end i32) (local $v v128) (local $s v128) (local $g v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (if (i32.eqz (local.get $n)) (then (return)))
    (loop $l
      (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
      (local.set $s
        (f32x4.div (v128.const f32x4 1 1 1 1)
          (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $v))))))
      (local.set $g
        (f32x4.mul
          (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $i))) (local.get $s))
          (f32x4.add (v128.const f32x4 1 1 1 1)
            (f32x4.mul (local.get $v) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $s))))))
      (if (local.get $acc)
        (then (local.set $g (f32x4.add (v128.load (i32.add (local.get $dx) (local.get $i))) (local.get $g)))))
      (v128.store (i32.add (local.get $dx) (local.get $i)) (local.get $g))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $end)))))

  ;; RMSNorm over rows of dim floats (dim a multiple of 4), all arithmetic in f64 as in the
  ;; TypeScript kernel (only the order of the sum of squares differs), so that huge activations of
  ;; a diverging run overflow, or not, where the reference does: r = 1/√(mean(x²) + eps),
  ;; rstd[row] = r, out = (x·r)·w.
  (func (export "rmsnorm") (param $x i32) (param $w i32) (param $out i32) (param $rstd i32)
                           (param $rows i32) (param $dim i32) (param $eps f64)
    (local $row i32) (local $o i32) (local $j i32) (local $rowBytes i32)
    (local $v v128) (local $wv v128) (local $lo v128) (local $hi v128) (local $acc v128) (local $r f64) (local $rv v128)
    (local.set $rowBytes (i32.shl (local.get $dim) (i32.const 2)))
    (if (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $dim))) (then (return)))
    (loop $rowLoop
      (local.set $o (i32.mul (local.get $row) (local.get $rowBytes)))
      (local.set $acc (v128.const f64x2 0 0))
      (local.set $j (i32.const 0))
      (loop $sq
        (local.set $v (v128.load (i32.add (local.get $x) (i32.add (local.get $o) (local.get $j)))))
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
        (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
        (local.set $acc
          (f64x2.add
            (f64x2.add (local.get $acc) (f64x2.mul (local.get $lo) (local.get $lo)))
            (f64x2.mul (local.get $hi) (local.get $hi))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $sq (i32.lt_u (local.get $j) (local.get $rowBytes))))
      (local.set $r
        (f64.div (f64.const 1)
          (f64.sqrt (f64.add (f64.div (call $hsum2 (local.get $acc)) (f64.convert_i32_u (local.get $dim))) (local.get $eps)))))
      (f32.store (i32.add (local.get $rstd) (i32.shl (local.get $row) (i32.const 2))) (f32.demote_f64 (local.get $r)))
      (local.set $rv (f64x2.splat (local.get $r)))
      (local.set $j (i32.const 0))
      (loop $scale
        (local.set $v (v128.load (i32.add (local.get $x) (i32.add (local.get $o) (local.get $j)))))
        (local.set $wv (v128.load (i32.add (local.get $w) (local.get $j))))
        (v128.store (i32.add (local.get $out) (i32.add (local.get $o) (local.get $j)))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.mul (f64x2.promote_low_f32x4 (local.get $v)) (local.get $rv)) (f64x2.promote_low_f32x4 (local.get $wv)))) (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.mul (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $rv)) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $wv) (local.get $wv)))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $scale (i32.lt_u (local.get $j) (local.get $rowBytes))))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br_if $rowLoop (i32.lt_u (local.get $row) (local.get $rows)))))

  ;; With g = w ⊙ dy: dx = (r·w)·dy − c·x with c = r³·(Σ (w·dy)·x)/dim, dx overwritten or added to
  ;; when acc; dw += (dy·x)·r, rows in order. In f64 like the forward, each result rounded once.
  (func (export "rmsnormBackward") (param $x i32) (param $w i32) (param $rstd i32) (param $dy i32)
                                   (param $dx i32) (param $dw i32) (param $rows i32) (param $dim i32) (param $acc i32)
    (local $row i32) (local $o i32) (local $j i32) (local $rowBytes i32)
    (local $dot v128) (local $r f64) (local $rv v128) (local $cv v128)
    (local $x4 v128) (local $dy4 v128) (local $w4 v128) (local $dx4 v128) (local $dw4 v128)
    (local $xl v128) (local $xh v128) (local $dyl v128) (local $dyh v128) (local $wl v128) (local $wh v128)
    (local $gl v128) (local $gh v128)
    (local.set $rowBytes (i32.shl (local.get $dim) (i32.const 2)))
    (if (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $dim))) (then (return)))
    (loop $rowLoop
      (local.set $o (i32.mul (local.get $row) (local.get $rowBytes)))
      (local.set $r (f64.promote_f32 (f32.load (i32.add (local.get $rstd) (i32.shl (local.get $row) (i32.const 2))))))
      (local.set $dot (v128.const f64x2 0 0))
      (local.set $j (i32.const 0))
      (loop $d
        (local.set $w4 (v128.load (i32.add (local.get $w) (local.get $j))))
        (local.set $dy4 (v128.load (i32.add (local.get $dy) (i32.add (local.get $o) (local.get $j)))))
        (local.set $x4 (v128.load (i32.add (local.get $x) (i32.add (local.get $o) (local.get $j)))))
        (local.set $dot
          (f64x2.add
            (f64x2.add (local.get $dot)
              (f64x2.mul
                (f64x2.mul (f64x2.promote_low_f32x4 (local.get $w4)) (f64x2.promote_low_f32x4 (local.get $dy4)))
                (f64x2.promote_low_f32x4 (local.get $x4))))
            (f64x2.mul
              (f64x2.mul (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w4) (local.get $w4))) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $dy4) (local.get $dy4))))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x4) (local.get $x4))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $d (i32.lt_u (local.get $j) (local.get $rowBytes))))
      (local.set $cv
        (f64x2.splat
          (f64.div
            (f64.mul (f64.mul (f64.mul (local.get $r) (local.get $r)) (local.get $r)) (call $hsum2 (local.get $dot)))
            (f64.convert_i32_u (local.get $dim)))))
      (local.set $rv (f64x2.splat (local.get $r)))
      (local.set $j (i32.const 0))
      (loop $e
        (local.set $x4 (v128.load (i32.add (local.get $x) (i32.add (local.get $o) (local.get $j)))))
        (local.set $dy4 (v128.load (i32.add (local.get $dy) (i32.add (local.get $o) (local.get $j)))))
        (local.set $w4 (v128.load (i32.add (local.get $w) (local.get $j))))
        (local.set $xl (f64x2.promote_low_f32x4 (local.get $x4)))
        (local.set $xh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x4) (local.get $x4))))
        (local.set $dyl (f64x2.promote_low_f32x4 (local.get $dy4)))
        (local.set $dyh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $dy4) (local.get $dy4))))
        (local.set $wl (f64x2.promote_low_f32x4 (local.get $w4)))
        (local.set $wh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $w4) (local.get $w4))))
        (local.set $gl
          (f64x2.sub (f64x2.mul (f64x2.mul (local.get $rv) (local.get $wl)) (local.get $dyl)) (f64x2.mul (local.get $cv) (local.get $xl))))
        (local.set $gh
          (f64x2.sub (f64x2.mul (f64x2.mul (local.get $rv) (local.get $wh)) (local.get $dyh)) (f64x2.mul (local.get $cv) (local.get $xh))))
        (if (local.get $acc)
          (then
            (local.set $dx4 (v128.load (i32.add (local.get $dx) (i32.add (local.get $o) (local.get $j)))))
            (local.set $gl (f64x2.add (f64x2.promote_low_f32x4 (local.get $dx4)) (local.get $gl)))
            (local.set $gh (f64x2.add (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $dx4) (local.get $dx4))) (local.get $gh)))))
        (v128.store (i32.add (local.get $dx) (i32.add (local.get $o) (local.get $j))) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (local.get $gl)) (f32x4.demote_f64x2_zero (local.get $gh))))
        (local.set $dw4 (v128.load (i32.add (local.get $dw) (local.get $j))))
        (v128.store (i32.add (local.get $dw) (local.get $j))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (f64x2.add (f64x2.promote_low_f32x4 (local.get $dw4)) (f64x2.mul (f64x2.mul (local.get $dyl) (local.get $xl)) (local.get $rv)))) (f32x4.demote_f64x2_zero (f64x2.add (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $dw4) (local.get $dw4))) (f64x2.mul (f64x2.mul (local.get $dyh) (local.get $xh)) (local.get $rv))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $e (i32.lt_u (local.get $j) (local.get $rowBytes))))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br_if $rowLoop (i32.lt_u (local.get $row) (local.get $rows)))))

  ;; Softmax cross-entropy rows (vocab a multiple of 4): per row, the maximum and the f64 sum of
  ;; exp(x − max) go to stats[2·row] and stats[2·row + 1] (f64), and dLogits = exp(x − max)·gradScale/sum.
  ;; The caller forms the loss from the stats and subtracts gradScale at each target.
  (func (export "softmaxRows") (param $logits i32) (param $dLogits i32) (param $stats i32)
                               (param $rows i32) (param $vocab i32) (param $gradScale f64)
    (local $row i32) (local $o i32) (local $j i32) (local $rowBytes i32)
    (local $mv v128) (local $max f32) (local $maxv v128) (local $e v128) (local $sum v128) (local $s f64) (local $sv v128)
    (local.set $rowBytes (i32.shl (local.get $vocab) (i32.const 2)))
    (if (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $vocab))) (then (return)))
    (loop $rowLoop
      (local.set $o (i32.mul (local.get $row) (local.get $rowBytes)))
      (local.set $mv (v128.const f32x4 -inf -inf -inf -inf))
      (local.set $j (i32.const 0))
      (loop $m
        (local.set $mv (f32x4.max (local.get $mv) (v128.load (i32.add (local.get $logits) (i32.add (local.get $o) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $m (i32.lt_u (local.get $j) (local.get $rowBytes))))
      (local.set $max
        (f32.max
          (f32.max (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
          (f32.max (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv)))))
      (local.set $maxv (f32x4.splat (local.get $max)))
      (local.set $sum (v128.const f64x2 0 0))
      (local.set $j (i32.const 0))
      (loop $x
        (local.set $e
          (call $exp4 (f32x4.sub (v128.load (i32.add (local.get $logits) (i32.add (local.get $o) (local.get $j)))) (local.get $maxv))))
        (v128.store (i32.add (local.get $dLogits) (i32.add (local.get $o) (local.get $j))) (local.get $e))
        (local.set $sum
          (f64x2.add (f64x2.add (local.get $sum) (f64x2.promote_low_f32x4 (local.get $e))) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $e) (local.get $e)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $x (i32.lt_u (local.get $j) (local.get $rowBytes))))
      (local.set $s (call $hsum2 (local.get $sum)))
      (f64.store (i32.add (local.get $stats) (i32.shl (local.get $row) (i32.const 4))) (f64.promote_f32 (local.get $max)))
      (f64.store offset=8 (i32.add (local.get $stats) (i32.shl (local.get $row) (i32.const 4))) (local.get $s))
      (local.set $sv (f32x4.splat (f32.demote_f64 (f64.div (local.get $gradScale) (local.get $s)))))
      (local.set $j (i32.const 0))
      (loop $sc
        (v128.store (i32.add (local.get $dLogits) (i32.add (local.get $o) (local.get $j)))
          (f32x4.mul (v128.load (i32.add (local.get $dLogits) (i32.add (local.get $o) (local.get $j)))) (local.get $sv)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $sc (i32.lt_u (local.get $j) (local.get $rowBytes))))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br_if $rowLoop (i32.lt_u (local.get $row) (local.get $rows)))))
;; ---------------------------------------------------------------------------------------------
  ;; Fused causal attention (flash-attention style), O(T) memory. q, k, v, out, dO, dq, dk, dv are
  ;; [B, T, H, hd] (row stride H·hd floats); T must be a multiple of 8 and hd of 4 (the caller
  ;; falls back to TypeScript otherwise). Work goes in tiles of 4 query rows × 8 keys: a score tile
  ;; is 8 f32x4 accumulators (2 per row), built from q rows (one splat per element) against kᵀ,
  ;; which each head first transposes into a hd×T scratch so that 8 consecutive keys of one
  ;; dimension are two vector loads. Lanes past the diagonal are masked (j > i). Sums of a tile's
  ;; row (max, exp sum, D) are horizontal over 8 lanes; everything accumulates in f32.

  ;; Bᵀ (hd×T, T floats a row) of the T rows of hd floats at src (row stride rs bytes).
  (func $transpose (param $src i32) (param $rs i32) (param $dst i32) (param $T i32) (param $hd i32)
    (local $j i32) (local $d i32) (local $row i32)
    (loop $rows
      (local.set $row (i32.add (local.get $src) (i32.mul (local.get $j) (local.get $rs))))
      (local.set $d (i32.const 0))
      (loop $cols
        (f32.store
          (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $d) (local.get $T)) (local.get $j)) (i32.const 2)))
          (f32.load (i32.add (local.get $row) (i32.shl (local.get $d) (i32.const 2)))))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))
        (br_if $cols (i32.lt_u (local.get $d) (local.get $hd))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br_if $rows (i32.lt_u (local.get $j) (local.get $T)))))

  ;; The 4×8 tile out[r·8 + c] = Σ_d a[r][d]·bt[d][c]: a's 4 rows start at a (stride as bytes),
  ;; bt points at column j0 of a hd×T transposed matrix (row stride tb bytes).
  (func $scoreTile (param $a i32) (param $as i32) (param $bt i32) (param $tb i32) (param $hd i32) (param $out i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $end i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    (local.set $a0 (local.get $a))
    (local.set $a1 (i32.add (local.get $a0) (local.get $as)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $as)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $as)))
    (local.set $end (i32.add (local.get $a0) (i32.shl (local.get $hd) (i32.const 2))))
    (loop $d
      (local.set $b0 (v128.load (local.get $bt)))
      (local.set $b1 (v128.load offset=16 (local.get $bt)))
      (local.set $x (v128.load32_splat (local.get $a0)))
      (local.set $s00 (f32x4.add (local.get $s00) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $s01 (f32x4.add (local.get $s01) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a1)))
      (local.set $s10 (f32x4.add (local.get $s10) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $s11 (f32x4.add (local.get $s11) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a2)))
      (local.set $s20 (f32x4.add (local.get $s20) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $s21 (f32x4.add (local.get $s21) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a3)))
      (local.set $s30 (f32x4.add (local.get $s30) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $s31 (f32x4.add (local.get $s31) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
      (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
      (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
      (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
      (local.set $bt (i32.add (local.get $bt) (local.get $tb)))
      (br_if $d (i32.lt_u (local.get $a0) (local.get $end))))
    (v128.store (local.get $out) (local.get $s00))
    (v128.store offset=16 (local.get $out) (local.get $s01))
    (v128.store offset=32 (local.get $out) (local.get $s10))
    (v128.store offset=48 (local.get $out) (local.get $s11))
    (v128.store offset=64 (local.get $out) (local.get $s20))
    (v128.store offset=80 (local.get $out) (local.get $s21))
    (v128.store offset=96 (local.get $out) (local.get $s30))
    (v128.store offset=112 (local.get $out) (local.get $s31)))

  ;; dst[r] += Σ_c p[r·8 + c]·src[c] for the 4 rows of hd floats at dst (stride ds bytes) and the
  ;; 8 rows at src (stride ss bytes): out += P·V forward, dq += dS·K backward.
  (func $accumRows (param $p i32) (param $src i32) (param $ss i32) (param $dst i32) (param $ds i32) (param $hd i32)
    (local $dv i32) (local $end i32) (local $c i32) (local $s i32) (local $x v128)
    (local $d0 i32) (local $d1 i32) (local $d2 i32) (local $d3 i32)
    (local $o0 v128) (local $o1 v128) (local $o2 v128) (local $o3 v128)
    (local.set $end (i32.shl (local.get $hd) (i32.const 2)))
    (loop $vec
      (local.set $d0 (i32.add (local.get $dst) (local.get $dv)))
      (local.set $d1 (i32.add (local.get $d0) (local.get $ds)))
      (local.set $d2 (i32.add (local.get $d1) (local.get $ds)))
      (local.set $d3 (i32.add (local.get $d2) (local.get $ds)))
      (local.set $o0 (v128.load (local.get $d0)))
      (local.set $o1 (v128.load (local.get $d1)))
      (local.set $o2 (v128.load (local.get $d2)))
      (local.set $o3 (v128.load (local.get $d3)))
      (local.set $s (i32.add (local.get $src) (local.get $dv)))
      (local.set $c (i32.const 0))
      (loop $keys
        (local.set $x (v128.load (local.get $s)))
        (local.set $o0 (f32x4.add (local.get $o0)
          (f32x4.mul (v128.load32_splat (i32.add (local.get $p) (local.get $c))) (local.get $x))))
        (local.set $o1 (f32x4.add (local.get $o1)
          (f32x4.mul (v128.load32_splat offset=32 (i32.add (local.get $p) (local.get $c))) (local.get $x))))
        (local.set $o2 (f32x4.add (local.get $o2)
          (f32x4.mul (v128.load32_splat offset=64 (i32.add (local.get $p) (local.get $c))) (local.get $x))))
        (local.set $o3 (f32x4.add (local.get $o3)
          (f32x4.mul (v128.load32_splat offset=96 (i32.add (local.get $p) (local.get $c))) (local.get $x))))
        (local.set $s (i32.add (local.get $s) (local.get $ss)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br_if $keys (i32.lt_u (local.get $c) (i32.const 32))))
      (v128.store (local.get $d0) (local.get $o0))
      (v128.store (local.get $d1) (local.get $o1))
      (v128.store (local.get $d2) (local.get $o2))
      (v128.store (local.get $d3) (local.get $o3))
      (local.set $dv (i32.add (local.get $dv) (i32.const 16)))
      (br_if $vec (i32.lt_u (local.get $dv) (local.get $end)))))

  ;; dst[c] += Σ_r p[r·8 + c]·src[r] for the 8 contiguous rows of hd floats at dst and the 4 rows
  ;; at src (stride ss bytes): dv += Pᵀ·dO and dk += dSᵀ·Q.
  (func $accumTransposed (param $p i32) (param $src i32) (param $ss i32) (param $dst i32) (param $hd i32)
    (local $dv i32) (local $rowBytes i32) (local $c i32) (local $d i32)
    (local $s0 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128)
    (local.set $rowBytes (i32.shl (local.get $hd) (i32.const 2)))
    (local.set $s0 (local.get $src))
    (local.set $s1 (i32.add (local.get $s0) (local.get $ss)))
    (local.set $s2 (i32.add (local.get $s1) (local.get $ss)))
    (local.set $s3 (i32.add (local.get $s2) (local.get $ss)))
    (loop $keys
      (local.set $p0 (v128.load32_splat (i32.add (local.get $p) (local.get $c))))
      (local.set $p1 (v128.load32_splat offset=32 (i32.add (local.get $p) (local.get $c))))
      (local.set $p2 (v128.load32_splat offset=64 (i32.add (local.get $p) (local.get $c))))
      (local.set $p3 (v128.load32_splat offset=96 (i32.add (local.get $p) (local.get $c))))
      (local.set $dv (i32.const 0))
      (loop $vec
        (local.set $d (i32.add (local.get $dst) (local.get $dv)))
        (v128.store (local.get $d)
          (f32x4.add (v128.load (local.get $d))
            (f32x4.add
              (f32x4.add
                (f32x4.mul (local.get $p0) (v128.load (i32.add (local.get $s0) (local.get $dv))))
                (f32x4.mul (local.get $p1) (v128.load (i32.add (local.get $s1) (local.get $dv)))))
              (f32x4.add
                (f32x4.mul (local.get $p2) (v128.load (i32.add (local.get $s2) (local.get $dv))))
                (f32x4.mul (local.get $p3) (v128.load (i32.add (local.get $s3) (local.get $dv))))))))
        (local.set $dv (i32.add (local.get $dv) (i32.const 16)))
        (br_if $vec (i32.lt_u (local.get $dv) (local.get $rowBytes))))
      (local.set $dst (i32.add (local.get $dst) (local.get $rowBytes)))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br_if $keys (i32.lt_u (local.get $c) (i32.const 32)))))

  ;; Multiplies `rows` rows of hd floats at dst (stride ds bytes) by f, or sets them to 0 when f is 0.
  (func $scaleRows (param $dst i32) (param $ds i32) (param $rows i32) (param $hd i32) (param $f f32)
    (local $r i32) (local $dv i32) (local $end i32) (local $fv v128) (local $a i32)
    (local.set $end (i32.shl (local.get $hd) (i32.const 2)))
    (local.set $fv (f32x4.splat (local.get $f)))
    (loop $rowLoop
      (local.set $dv (i32.const 0))
      (loop $vec
        (local.set $a (i32.add (local.get $dst) (local.get $dv)))
        (if (f32.eq (local.get $f) (f32.const 0))
          (then (v128.store (local.get $a) (v128.const i32x4 0 0 0 0)))
          (else (v128.store (local.get $a) (f32x4.mul (v128.load (local.get $a)) (local.get $fv)))))
        (local.set $dv (i32.add (local.get $dv) (i32.const 16)))
        (br_if $vec (i32.lt_u (local.get $dv) (local.get $end))))
      (local.set $dst (i32.add (local.get $dst) (local.get $ds)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $rowLoop (i32.lt_u (local.get $r) (local.get $rows)))))

  ;; Copies `rows` contiguous rows of hd floats at src to dst (stride ds bytes).
  (func $copyRowsOut (param $src i32) (param $dst i32) (param $ds i32) (param $rows i32) (param $hd i32)
    (local $r i32) (local $dv i32) (local $end i32)
    (local.set $end (i32.shl (local.get $hd) (i32.const 2)))
    (loop $rowLoop
      (local.set $dv (i32.const 0))
      (loop $vec
        (v128.store (i32.add (local.get $dst) (local.get $dv)) (v128.load (i32.add (local.get $src) (local.get $dv))))
        (local.set $dv (i32.add (local.get $dv) (i32.const 16)))
        (br_if $vec (i32.lt_u (local.get $dv) (local.get $end))))
      (local.set $src (i32.add (local.get $src) (local.get $end)))
      (local.set $dst (i32.add (local.get $dst) (local.get $ds)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $rowLoop (i32.lt_u (local.get $r) (local.get $rows)))))

  ;; The lanes of keys j0…j0+3 and j0+4…j0+7 that row i (of the block at r0) sees: all-ones where
  ;; j ≤ i. Tiles wholly at or below the diagonal of the block (j0 + 7 ≤ r0) need no comparison.
  (func $tileMasks (param $j0 i32) (param $r0 i32) (param $i i32) (result v128 v128)
    (local $iv v128) (local $jv v128)
    (if (i32.le_u (i32.add (local.get $j0) (i32.const 7)) (local.get $r0))
      (then (return (v128.const i32x4 -1 -1 -1 -1) (v128.const i32x4 -1 -1 -1 -1))))
    (local.set $iv (i32x4.splat (local.get $i)))
    (local.set $jv (i32x4.add (i32x4.splat (local.get $j0)) (v128.const i32x4 0 1 2 3)))
    (i32x4.le_s (local.get $jv) (local.get $iv))
    (i32x4.le_s (i32x4.add (local.get $jv) (v128.const i32x4 4 4 4 4)) (local.get $iv)))

  ;; Horizontal sum of 4 f32 lanes.
  (func $hsum4 (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
  ;; Forward. Per head and block of 4 query rows, an online softmax over key tiles up to the
  ;; diagonal: running max m and sum l per row (kept at m[], l[]: [B, H, T]), the output rows
  ;; accumulated unnormalised in place and rescaled by exp(m_old − m_new) when a row's max grows,
  ;; divided by l at the end. The caller forms lse = m + log l. Scratch: kt (hd·T), tile (32).
  (func (export "flashForward") (param $q i32) (param $k i32) (param $v i32) (param $out i32)
                                (param $m i32) (param $l i32) (param $kt i32) (param $tile i32)
                                (param $B i32) (param $T i32) (param $H i32) (param $hd i32) (param $scale f32)
    (local $b i32) (local $h i32) (local $rs i32) (local $tb i32) (local $head i32) (local $stat i32)
    (local $r0 i32) (local $j0 i32) (local $r i32) (local $i i32) (local $t i32) (local $sa i32)
    (local $scv v128) (local $maskA v128) (local $maskB v128) (local $xa v128) (local $xb v128) (local $mv v128)
    (local $mOld f32) (local $mNew f32) (local $alpha f32)
    (local.set $rs (i32.shl (i32.mul (local.get $H) (local.get $hd)) (i32.const 2)))
    (local.set $tb (i32.shl (local.get $T) (i32.const 2)))
    (local.set $scv (f32x4.splat (local.get $scale)))
    (if (i32.or (i32.or (i32.eqz (local.get $B)) (i32.eqz (local.get $T))) (i32.or (i32.eqz (local.get $H)) (i32.eqz (local.get $hd))))
      (then (return)))
    (loop $batches
      (local.set $h (i32.const 0))
      (loop $heads
        (local.set $head (i32.add (i32.mul (i32.mul (local.get $b) (local.get $T)) (local.get $rs))
                                  (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2))))
        (local.set $stat (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $h)) (local.get $T)) (i32.const 2)))
        (call $transpose (i32.add (local.get $k) (local.get $head)) (local.get $rs) (local.get $kt) (local.get $T) (local.get $hd))
        (local.set $r0 (i32.const 0))
        (loop $rowBlocks
          (call $scaleRows (i32.add (local.get $out) (i32.add (local.get $head) (i32.mul (local.get $r0) (local.get $rs))))
            (local.get $rs) (i32.const 4) (local.get $hd) (f32.const 0))
          (local.set $r (i32.const 0))
          (loop $init
            (local.set $t (i32.add (local.get $stat) (i32.shl (i32.add (local.get $r0) (local.get $r)) (i32.const 2))))
            (f32.store (i32.add (local.get $m) (local.get $t)) (f32.const -inf))
            (f32.store (i32.add (local.get $l) (local.get $t)) (f32.const 0))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br_if $init (i32.lt_u (local.get $r) (i32.const 4))))
          (local.set $j0 (i32.const 0))
          (loop $keyTiles
            (call $scoreTile
              (i32.add (local.get $q) (i32.add (local.get $head) (i32.mul (local.get $r0) (local.get $rs))))
              (local.get $rs) (i32.add (local.get $kt) (i32.shl (local.get $j0) (i32.const 2))) (local.get $tb)
              (local.get $hd) (local.get $tile))
            (local.set $r (i32.const 0))
            (loop $rows
              (local.set $i (i32.add (local.get $r0) (local.get $r)))
              (local.set $t (i32.add (local.get $stat) (i32.shl (local.get $i) (i32.const 2))))
              (local.set $sa (i32.add (local.get $tile) (i32.shl (local.get $r) (i32.const 5))))
              (call $tileMasks (local.get $j0) (local.get $r0) (local.get $i))
              (local.set $maskB)
              (local.set $maskA)
              (local.set $xa (v128.bitselect (f32x4.mul (v128.load (local.get $sa)) (local.get $scv))
                (v128.const f32x4 -inf -inf -inf -inf) (local.get $maskA)))
              (local.set $xb (v128.bitselect (f32x4.mul (v128.load offset=16 (local.get $sa)) (local.get $scv))
                (v128.const f32x4 -inf -inf -inf -inf) (local.get $maskB)))
              (local.set $mOld (f32.load (i32.add (local.get $m) (local.get $t))))
              (local.set $mv (f32x4.max (local.get $xa) (local.get $xb)))
              (local.set $mNew
                (f32.max (local.get $mOld)
                  (f32.max
                    (f32.max (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
                    (f32.max (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv))))))
              (local.set $mv (f32x4.splat (local.get $mNew)))
              (call $exp8 (f32x4.sub (local.get $xa) (local.get $mv)) (f32x4.sub (local.get $xb) (local.get $mv)))
              (local.set $xb (v128.and (local.get $maskB)))
              (local.set $xa (v128.and (local.get $maskA)))
              (v128.store (local.get $sa) (local.get $xa))
              (v128.store offset=16 (local.get $sa) (local.get $xb))
              (local.set $alpha (f32.const 1))
              (if (f32.gt (local.get $mNew) (local.get $mOld))
                (then
                  ;; The row's max grew: what it summed so far is rescaled to the new max (on its
                  ;; first tile there is nothing yet, m_old = −∞).
                  (if (f32.ne (local.get $mOld) (f32.const -inf))
                    (then
                      (local.set $alpha (f32x4.extract_lane 0
                        (call $exp4 (f32x4.splat (f32.sub (local.get $mOld) (local.get $mNew))))))
                      (call $scaleRows
                        (i32.add (local.get $out) (i32.add (local.get $head) (i32.mul (local.get $i) (local.get $rs))))
                        (local.get $rs) (i32.const 1) (local.get $hd) (local.get $alpha))))
                  (f32.store (i32.add (local.get $m) (local.get $t)) (local.get $mNew))))
              (f32.store (i32.add (local.get $l) (local.get $t))
                (f32.add
                  (f32.mul (f32.load (i32.add (local.get $l) (local.get $t))) (local.get $alpha))
                  (block (result f32)
                    (local.set $mv (f32x4.add (local.get $xa) (local.get $xb)))
                    (f32.add
                      (f32.add (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
                      (f32.add (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv)))))))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br_if $rows (i32.lt_u (local.get $r) (i32.const 4))))
            (call $accumRows (local.get $tile)
              (i32.add (local.get $v) (i32.add (local.get $head) (i32.mul (local.get $j0) (local.get $rs)))) (local.get $rs)
              (i32.add (local.get $out) (i32.add (local.get $head) (i32.mul (local.get $r0) (local.get $rs)))) (local.get $rs)
              (local.get $hd))
            (local.set $j0 (i32.add (local.get $j0) (i32.const 8)))
            (br_if $keyTiles (i32.le_u (local.get $j0) (i32.add (local.get $r0) (i32.const 3)))))
          (local.set $r (i32.const 0))
          (loop $finish
            (local.set $i (i32.add (local.get $r0) (local.get $r)))
            (call $scaleRows
              (i32.add (local.get $out) (i32.add (local.get $head) (i32.mul (local.get $i) (local.get $rs))))
              (local.get $rs) (i32.const 1) (local.get $hd)
              (f32.div (f32.const 1) (f32.load (i32.add (local.get $l) (i32.add (local.get $stat) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br_if $finish (i32.lt_u (local.get $r) (i32.const 4))))
          (local.set $r0 (i32.add (local.get $r0) (i32.const 4)))
          (br_if $rowBlocks (i32.lt_u (local.get $r0) (local.get $T))))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br_if $heads (i32.lt_u (local.get $h) (local.get $H))))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br_if $batches (i32.lt_u (local.get $b) (local.get $B)))))

  ;; Backward (FlashAttention-2 order). Per head: kᵀ and vᵀ transposed into kt, vt (hd·T each),
  ;; D_i = rowsum(dO_i ⊙ O_i) into dd (T), dq zeroed; then per tile of 8 keys, over the blocks of 4
  ;; query rows at or below it: P = exp(s·scale − lse) recomputed (masked above the diagonal),
  ;; dP = dO·vᵀ, dS = P ⊙ (dP − D)·scale; dv_tile += Pᵀ·dO and dk_tile += dSᵀ·q in scratch,
  ;; dq += dS·k in place; the key tile's dk, dv rows are written when its column is done.
  ;; tile scratch: P (32 floats), dS (32), dk and dv tiles (8·hd each).
  (func (export "flashBackward") (param $q i32) (param $k i32) (param $v i32) (param $o i32) (param $do i32)
                                 (param $lse i32) (param $dq i32) (param $dk i32) (param $dv i32)
                                 (param $kt i32) (param $vt i32) (param $dd i32) (param $tile i32)
                                 (param $B i32) (param $T i32) (param $H i32) (param $hd i32) (param $scale f32)
    (local $b i32) (local $h i32) (local $rs i32) (local $tb i32) (local $head i32) (local $stat i32)
    (local $r0 i32) (local $j0 i32) (local $r i32) (local $i i32) (local $pa i32) (local $sa i32)
    (local $dsTile i32) (local $dkTile i32) (local $dvTile i32) (local $x i32) (local $y i32) (local $c i32) (local $end i32)
    (local $scv v128) (local $maskA v128) (local $maskB v128) (local $pA v128) (local $pB v128)
    (local $lv v128) (local $dv4 v128) (local $acc v128)
    (local.set $rs (i32.shl (i32.mul (local.get $H) (local.get $hd)) (i32.const 2)))
    (local.set $tb (i32.shl (local.get $T) (i32.const 2)))
    (local.set $scv (f32x4.splat (local.get $scale)))
    (local.set $dsTile (i32.add (local.get $tile) (i32.const 128)))
    (local.set $dkTile (i32.add (local.get $tile) (i32.const 256)))
    (local.set $dvTile (i32.add (local.get $dkTile) (i32.shl (local.get $hd) (i32.const 5))))
    (local.set $end (i32.shl (local.get $hd) (i32.const 2)))
    (if (i32.or (i32.or (i32.eqz (local.get $B)) (i32.eqz (local.get $T))) (i32.or (i32.eqz (local.get $H)) (i32.eqz (local.get $hd))))
      (then (return)))
    (loop $batches
      (local.set $h (i32.const 0))
      (loop $heads
        (local.set $head (i32.add (i32.mul (i32.mul (local.get $b) (local.get $T)) (local.get $rs))
                                  (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2))))
        (local.set $stat (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $h)) (local.get $T)) (i32.const 2)))
        (call $transpose (i32.add (local.get $k) (local.get $head)) (local.get $rs) (local.get $kt) (local.get $T) (local.get $hd))
        (call $transpose (i32.add (local.get $v) (local.get $head)) (local.get $rs) (local.get $vt) (local.get $T) (local.get $hd))
        ;; D_i = Σ_d dO[i][d]·O[i][d]
        (local.set $i (i32.const 0))
        (loop $dRows
          (local.set $x (i32.add (local.get $head) (i32.mul (local.get $i) (local.get $rs))))
          (local.set $acc (v128.const i32x4 0 0 0 0))
          (local.set $c (i32.const 0))
          (loop $dVec
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul
                (v128.load (i32.add (local.get $do) (i32.add (local.get $x) (local.get $c))))
                (v128.load (i32.add (local.get $o) (i32.add (local.get $x) (local.get $c)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br_if $dVec (i32.lt_u (local.get $c) (local.get $end))))
          (f32.store (i32.add (local.get $dd) (i32.shl (local.get $i) (i32.const 2))) (call $hsum4 (local.get $acc)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $dRows (i32.lt_u (local.get $i) (local.get $T))))
        (call $scaleRows (i32.add (local.get $dq) (local.get $head)) (local.get $rs) (local.get $T) (local.get $hd) (f32.const 0))
        (local.set $j0 (i32.const 0))
        (loop $keyTiles
          (call $scaleRows (local.get $dkTile) (local.get $end) (i32.const 16) (local.get $hd) (f32.const 0))
          (local.set $r0 (local.get $j0))
          (loop $rowBlocks
            (local.set $x (i32.add (local.get $head) (i32.mul (local.get $r0) (local.get $rs))))
            (call $scoreTile (i32.add (local.get $q) (local.get $x)) (local.get $rs)
              (i32.add (local.get $kt) (i32.shl (local.get $j0) (i32.const 2))) (local.get $tb) (local.get $hd) (local.get $tile))
            (call $scoreTile (i32.add (local.get $do) (local.get $x)) (local.get $rs)
              (i32.add (local.get $vt) (i32.shl (local.get $j0) (i32.const 2))) (local.get $tb) (local.get $hd) (local.get $dsTile))
            (local.set $r (i32.const 0))
            (loop $rows
              (local.set $i (i32.add (local.get $r0) (local.get $r)))
              (local.set $pa (i32.add (local.get $tile) (i32.shl (local.get $r) (i32.const 5))))
              (local.set $sa (i32.add (local.get $dsTile) (i32.shl (local.get $r) (i32.const 5))))
              (call $tileMasks (local.get $j0) (local.get $r0) (local.get $i))
              (local.set $maskB)
              (local.set $maskA)
              (local.set $y (i32.add (local.get $stat) (i32.shl (local.get $i) (i32.const 2))))
              (local.set $lv (v128.load32_splat (i32.add (local.get $lse) (local.get $y))))
              (local.set $dv4 (v128.load32_splat (i32.add (local.get $dd) (i32.shl (local.get $i) (i32.const 2)))))
              (call $exp8
                (f32x4.sub (f32x4.mul (v128.load (local.get $pa)) (local.get $scv)) (local.get $lv))
                (f32x4.sub (f32x4.mul (v128.load offset=16 (local.get $pa)) (local.get $scv)) (local.get $lv)))
              (local.set $pB (v128.and (local.get $maskB)))
              (local.set $pA (v128.and (local.get $maskA)))
              (v128.store (local.get $pa) (local.get $pA))
              (v128.store offset=16 (local.get $pa) (local.get $pB))
              (v128.store (local.get $sa)
                (f32x4.mul (f32x4.mul (local.get $pA) (f32x4.sub (v128.load (local.get $sa)) (local.get $dv4))) (local.get $scv)))
              (v128.store offset=16 (local.get $sa)
                (f32x4.mul (f32x4.mul (local.get $pB) (f32x4.sub (v128.load offset=16 (local.get $sa)) (local.get $dv4))) (local.get $scv)))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br_if $rows (i32.lt_u (local.get $r) (i32.const 4))))
            (call $accumTransposed (local.get $tile) (i32.add (local.get $do) (local.get $x)) (local.get $rs) (local.get $dvTile) (local.get $hd))
            (call $accumTransposed (local.get $dsTile) (i32.add (local.get $q) (local.get $x)) (local.get $rs) (local.get $dkTile) (local.get $hd))
            (call $accumRows (local.get $dsTile)
              (i32.add (local.get $k) (i32.add (local.get $head) (i32.mul (local.get $j0) (local.get $rs)))) (local.get $rs)
              (i32.add (local.get $dq) (local.get $x)) (local.get $rs) (local.get $hd))
            (local.set $r0 (i32.add (local.get $r0) (i32.const 4)))
            (br_if $rowBlocks (i32.lt_u (local.get $r0) (local.get $T))))
          (local.set $x (i32.add (local.get $head) (i32.mul (local.get $j0) (local.get $rs))))
          (call $copyRowsOut (local.get $dkTile) (i32.add (local.get $dk) (local.get $x)) (local.get $rs) (i32.const 8) (local.get $hd))
          (call $copyRowsOut (local.get $dvTile) (i32.add (local.get $dv) (local.get $x)) (local.get $rs) (i32.const 8) (local.get $hd))
          (local.set $j0 (i32.add (local.get $j0) (i32.const 8)))
          (br_if $keyTiles (i32.lt_u (local.get $j0) (local.get $T))))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br_if $heads (i32.lt_u (local.get $h) (local.get $H))))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br_if $batches (i32.lt_u (local.get $b) (local.get $B)))))

  ;; Kernels that give the TypeScript kernels' bits exactly (their float32 trajectory is the
  ;; reference): they compute in f64x2 lanes, floats promoted and results demoted once when stored,
  ;; with the same operations in the same order as the JavaScript arithmetic in doubles.

  ;; out = s·x over n floats, s a double (elementwise.ts: `out[i] = s * x[i]`).
  (func (export "scale") (param $x i32) (param $out i32) (param $n i32) (param $s f64)
    (local $i i32) (local $end i32) (local $v v128) (local $S v128)
    (if (i32.eqz (local.get $n)) (then (return)))
    (local.set $S (f64x2.splat (local.get $s)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (loop $l
      (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
      (v128.store (i32.add (local.get $out) (local.get $i))
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (f64x2.mul (local.get $S) (f64x2.promote_low_f32x4 (local.get $v))))
          (f32x4.demote_f64x2_zero
            (f64x2.mul (local.get $S)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $end)))))

  ;; RoPE from x into out (which may be x) over rows of H heads of hd floats (hd a multiple of 4),
  ;; rope.ts's rotation of
  ;; each pair (x0, x1) of a head at position t = row mod T:
  ;;   x0 ← x0·c − x1·s;  x1 ← x0·s + x1·c
  ;; with c, s the f64 tables cos, sin laid out [T][hd/2] (s negated for the inverse rotation:
  ;; flipping the sign bit is exactly JavaScript's `-1 * sin`). One vector holds two pairs, whose
  ;; table entries are the two f64 lanes at the same byte offset in the table row (4 floats of x
  ;; and 2 doubles both take 16 bytes), so a head of hd floats walks hd·4 bytes of each table.
  (func (export "rope") (param $x i32) (param $out i32) (param $cos i32) (param $sin i32) (param $rows i32)
        (param $T i32) (param $H i32) (param $hd i32) (param $inverse i32)
    (local $row i32) (local $t i32) (local $h i32) (local $j i32) (local $headBytes i32)
    (local $c i32) (local $s i32)
    (local $v v128) (local $x0 v128) (local $x1 v128) (local $C v128) (local $S v128) (local $sign v128)
    (if (i32.or (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $H))) (i32.eqz (local.get $hd)))
      (then (return)))
    (local.set $headBytes (i32.shl (local.get $hd) (i32.const 2)))
    (if (local.get $inverse) (then (local.set $sign (v128.const f64x2 -0.0 -0.0))))
    (loop $rowLoop
      (local.set $c (i32.add (local.get $cos) (i32.mul (local.get $t) (local.get $headBytes))))
      (local.set $s (i32.add (local.get $sin) (i32.mul (local.get $t) (local.get $headBytes))))
      (local.set $h (i32.const 0))
      (loop $heads
        (local.set $j (i32.const 0))
        (loop $pairs
          ;; [x0 x1 x0' x1'] split into [x0 x0'] and [x1 x1'], promoted
          (local.set $v (v128.load (local.get $x)))
          (local.set $x0
            (f64x2.promote_low_f32x4 (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.get $v) (local.get $v))))
          (local.set $x1
            (f64x2.promote_low_f32x4 (i8x16.shuffle 4 5 6 7 12 13 14 15 4 5 6 7 12 13 14 15 (local.get $v) (local.get $v))))
          (local.set $C (v128.load (i32.add (local.get $c) (local.get $j))))
          (local.set $S (v128.xor (v128.load (i32.add (local.get $s) (local.get $j))) (local.get $sign)))
          ;; the two rotated halves demoted and interleaved back into [x0 x1 x0' x1']
          (v128.store (local.get $out)
            (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
              (f32x4.demote_f64x2_zero
                (f64x2.sub (f64x2.mul (local.get $x0) (local.get $C)) (f64x2.mul (local.get $x1) (local.get $S))))
              (f32x4.demote_f64x2_zero
                (f64x2.add (f64x2.mul (local.get $x0) (local.get $S)) (f64x2.mul (local.get $x1) (local.get $C))))))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $out (i32.add (local.get $out) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $pairs (i32.lt_u (local.get $j) (local.get $headBytes))))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br_if $heads (i32.lt_u (local.get $h) (local.get $H))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (if (i32.eq (local.get $t) (local.get $T)) (then (local.set $t (i32.const 0))))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br_if $rowLoop (i32.lt_u (local.get $row) (local.get $rows)))))
)
