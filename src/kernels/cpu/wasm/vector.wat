;; Single-precision elementwise and row kernels with WebAssembly SIMD (f32x4), compiled to
;; vectorWasm.generated.ts by scripts/build-wasm.ts. The TypeScript side (vectorWasm.ts) copies
;; the operands into this module's memory at 16-byte aligned offsets, each padded to a whole
;; number of f32x4 vectors, calls one function and copies the results back. Because every
;; operand is padded, the elementwise loops run over whole vectors and never need a scalar tail
;; (padding lanes compute garbage that is never copied out). Row kernels require the row length
;; to be a multiple of 4 (the caller falls back to TypeScript otherwise).
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
  (memory (export "memory") 1)

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
  ;; Causal softmax of attention scores in place: `rows` rows of T floats (T a multiple of 4), row
  ;; r being query i = r mod T, whose keys j ≤ i are live: p_j = exp(s_j·scale − max)/Σ (sum in
  ;; f64), and p_j = 0 for j > i. Lanes past the diagonal are masked out of max, exp and sum.
  (func (export "causalSoftmax") (param $s i32) (param $rows i32) (param $T i32) (param $scale f32)
    (local $row i32) (local $i i32) (local $o i32) (local $j i32) (local $live i32) (local $rowBytes i32)
    (local $mask v128) (local $iv v128) (local $idx v128) (local $scv v128) (local $mv v128) (local $maxv v128)
    (local $e v128) (local $sum v128) (local $inv v128)
    (local.set $rowBytes (i32.shl (local.get $T) (i32.const 2)))
    (local.set $scv (f32x4.splat (local.get $scale)))
    (if (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $T))) (then (return)))
    (loop $rowLoop
      (local.set $i (i32.rem_u (local.get $row) (local.get $T)))
      (local.set $o (i32.add (local.get $s) (i32.mul (local.get $row) (local.get $rowBytes))))
      ;; bytes of the vectors holding live entries: ⌈(i + 1)/4⌉·16
      (local.set $live (i32.shl (i32.and (i32.add (local.get $i) (i32.const 4)) (i32.const -4)) (i32.const 2)))
      (local.set $iv (i32x4.splat (local.get $i)))
      (local.set $mv (v128.const f32x4 -inf -inf -inf -inf))
      (local.set $idx (v128.const i32x4 0 1 2 3))
      (local.set $j (i32.const 0))
      (loop $m
        (local.set $mask (i32x4.le_s (local.get $idx) (local.get $iv)))
        (local.set $mv
          (f32x4.max (local.get $mv)
            (v128.bitselect
              (f32x4.mul (v128.load (i32.add (local.get $o) (local.get $j))) (local.get $scv))
              (v128.const f32x4 -inf -inf -inf -inf)
              (local.get $mask))))
        (local.set $idx (i32x4.add (local.get $idx) (v128.const i32x4 4 4 4 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $m (i32.lt_u (local.get $j) (local.get $live))))
      (local.set $maxv
        (f32x4.splat
          (f32.max
            (f32.max (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
            (f32.max (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv))))))
      (local.set $sum (v128.const f64x2 0 0))
      (local.set $idx (v128.const i32x4 0 1 2 3))
      (local.set $j (i32.const 0))
      (loop $x
        (local.set $mask (i32x4.le_s (local.get $idx) (local.get $iv)))
        (local.set $e
          (v128.and (local.get $mask)
            (call $exp4
              (f32x4.sub (f32x4.mul (v128.load (i32.add (local.get $o) (local.get $j))) (local.get $scv)) (local.get $maxv)))))
        (v128.store (i32.add (local.get $o) (local.get $j)) (local.get $e))
        (local.set $sum
          (f64x2.add (f64x2.add (local.get $sum) (f64x2.promote_low_f32x4 (local.get $e))) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $e) (local.get $e)))))
        (local.set $idx (i32x4.add (local.get $idx) (v128.const i32x4 4 4 4 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $x (i32.lt_u (local.get $j) (local.get $live))))
      (local.set $inv (f32x4.splat (f32.demote_f64 (f64.div (f64.const 1) (call $hsum2 (local.get $sum))))))
      (local.set $j (i32.const 0))
      (loop $n
        (v128.store (i32.add (local.get $o) (local.get $j))
          (f32x4.mul (v128.load (i32.add (local.get $o) (local.get $j))) (local.get $inv)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $n (i32.lt_u (local.get $j) (local.get $live))))
      ;; whole vectors past the diagonal
      (local.set $j (local.get $live))
      (block $done
        (loop $z
          (br_if $done (i32.ge_u (local.get $j) (local.get $rowBytes)))
          (v128.store (i32.add (local.get $o) (local.get $j)) (v128.const i32x4 0 0 0 0))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $z)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br_if $rowLoop (i32.lt_u (local.get $row) (local.get $rows)))))

  ;; The backward of causalSoftmax, in place on dp: with the stored probabilities p,
  ;; dS_j = p_j·(dP_j − Σ_k p_k·dP_k)·scale for j ≤ i (dot in f64) and 0 for j > i.
  (func (export "causalSoftmaxBackward") (param $p i32) (param $dp i32) (param $rows i32) (param $T i32) (param $scale f32)
    (local $row i32) (local $i i32) (local $o i32) (local $j i32) (local $live i32) (local $rowBytes i32)
    (local $mask v128) (local $iv v128) (local $idx v128) (local $scv v128) (local $v v128) (local $dot v128) (local $dotv v128)
    (local.set $rowBytes (i32.shl (local.get $T) (i32.const 2)))
    (local.set $scv (f32x4.splat (local.get $scale)))
    (if (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $T))) (then (return)))
    (loop $rowLoop
      (local.set $i (i32.rem_u (local.get $row) (local.get $T)))
      (local.set $o (i32.mul (local.get $row) (local.get $rowBytes)))
      (local.set $live (i32.shl (i32.and (i32.add (local.get $i) (i32.const 4)) (i32.const -4)) (i32.const 2)))
      (local.set $iv (i32x4.splat (local.get $i)))
      (local.set $dot (v128.const f64x2 0 0))
      (local.set $idx (v128.const i32x4 0 1 2 3))
      (local.set $j (i32.const 0))
      (loop $d
        (local.set $mask (i32x4.le_s (local.get $idx) (local.get $iv)))
        (local.set $v
          (v128.and (local.get $mask)
            (f32x4.mul
              (v128.load (i32.add (local.get $p) (i32.add (local.get $o) (local.get $j))))
              (v128.load (i32.add (local.get $dp) (i32.add (local.get $o) (local.get $j)))))))
        (local.set $dot
          (f64x2.add (f64x2.add (local.get $dot) (f64x2.promote_low_f32x4 (local.get $v))) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))
        (local.set $idx (i32x4.add (local.get $idx) (v128.const i32x4 4 4 4 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $d (i32.lt_u (local.get $j) (local.get $live))))
      (local.set $dotv (f32x4.splat (f32.demote_f64 (call $hsum2 (local.get $dot)))))
      (local.set $idx (v128.const i32x4 0 1 2 3))
      (local.set $j (i32.const 0))
      (loop $g
        (local.set $mask (i32x4.le_s (local.get $idx) (local.get $iv)))
        (v128.store (i32.add (local.get $dp) (i32.add (local.get $o) (local.get $j)))
          (v128.and (local.get $mask)
            (f32x4.mul
              (f32x4.mul
                (v128.load (i32.add (local.get $p) (i32.add (local.get $o) (local.get $j))))
                (f32x4.sub (v128.load (i32.add (local.get $dp) (i32.add (local.get $o) (local.get $j)))) (local.get $dotv)))
              (local.get $scv))))
        (local.set $idx (i32x4.add (local.get $idx) (v128.const i32x4 4 4 4 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $g (i32.lt_u (local.get $j) (local.get $live))))
      (local.set $j (local.get $live))
      (block $done
        (loop $z
          (br_if $done (i32.ge_u (local.get $j) (local.get $rowBytes)))
          (v128.store (i32.add (local.get $dp) (i32.add (local.get $o) (local.get $j))) (v128.const i32x4 0 0 0 0))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $z)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br_if $rowLoop (i32.lt_u (local.get $row) (local.get $rows)))))
)
