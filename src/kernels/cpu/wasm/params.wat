;; Float32 kernels over parameter-sized arrays with WebAssembly SIMD, compiled to
;; paramsWasm.generated.ts by scripts/build-wasm.ts: the AdamW and SGD updates, and the
;; embedding's row gather and its scatter-add backward. The module imports the kernels instance's
;; shared memory; the TypeScript side (paramsWasm.ts, operandHeap.ts) passes the byte offsets of
;; operands that live there and copies the others in, each 16-byte aligned and padded to whole f32x4
;; vectors. All pointers are byte offsets.
;;
;; All compute exactly what the TypeScript kernels (update.ts, embedding.ts) compute, bit for
;; bit, so moving them here leaves every float32 trajectory unchanged:
;; - AdamW and SGD run in f64x2 lanes (floats promoted, results demoted once when stored), with the same
;;   operations in the same order as the JavaScript arithmetic in doubles; IEEE division and square
;;   root are correctly rounded in both.
;; - The scatter-add adds rows in order of r with f32x4.add; JavaScript's `dTable[i] += dOut[j]`
;;   adds in double and rounds to float32, which gives the same float (a double holds the exact
;;   sum of two floats to within less than half a float ulp, so the final rounding matches).
(module
  (import "env" "memory" (memory 1 32768 shared))

  ;; AdamW over n floats (rounded up to whole vectors: the padding lanes compute garbage that is
  ;; never copied out), with bias corrections bc1 = 1 − β1ᵗ, bc2 = 1 − β2ᵗ and c1 = 1 − β1,
  ;; c2 = 1 − β2 computed by the caller in double:
  ;;   m ← β1·m + c1·g;  v ← β2·v + c2·g·g;  p ← p − lr·(m/bc1/(√(v/bc2) + eps) + wd·p)
  ;; where the p update uses m and v before they are rounded to float32 (as update.ts does).
  (func (export "adamw") (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
        (param $lr f64) (param $b1 f64) (param $c1 f64) (param $b2 f64) (param $c2 f64) (param $eps f64)
        (param $wd f64) (param $bc1 f64) (param $bc2 f64)
    (local $i i32) (local $end i32) (local $x v128)
    (local $gl v128) (local $gh v128) (local $ml v128) (local $mh v128) (local $vl v128) (local $vh v128)
    (local $pl v128) (local $ph v128)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128) (local $LR v128) (local $EPS v128)
    (local $WD v128) (local $BC1 v128) (local $BC2 v128)
    (if (i32.eqz (local.get $n)) (then (return)))
    (local.set $B1 (f64x2.splat (local.get $b1)))
    (local.set $C1 (f64x2.splat (local.get $c1)))
    (local.set $B2 (f64x2.splat (local.get $b2)))
    (local.set $C2 (f64x2.splat (local.get $c2)))
    (local.set $LR (f64x2.splat (local.get $lr)))
    (local.set $EPS (f64x2.splat (local.get $eps)))
    (local.set $WD (f64x2.splat (local.get $wd)))
    (local.set $BC1 (f64x2.splat (local.get $bc1)))
    (local.set $BC2 (f64x2.splat (local.get $bc2)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (loop $l
      ;; each f32x4 is promoted as two f64x2: its low lanes, then its high lanes shuffled down
      (local.set $x (v128.load (i32.add (local.get $g) (local.get $i))))
      (local.set $gl (f64x2.promote_low_f32x4 (local.get $x)))
      (local.set $gh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
      (local.set $x (v128.load (i32.add (local.get $m) (local.get $i))))
      (local.set $ml
        (f64x2.add (f64x2.mul (local.get $B1) (f64x2.promote_low_f32x4 (local.get $x)))
                   (f64x2.mul (local.get $C1) (local.get $gl))))
      (local.set $mh
        (f64x2.add (f64x2.mul (local.get $B1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
                   (f64x2.mul (local.get $C1) (local.get $gh))))
      (local.set $x (v128.load (i32.add (local.get $v) (local.get $i))))
      (local.set $vl
        (f64x2.add (f64x2.mul (local.get $B2) (f64x2.promote_low_f32x4 (local.get $x)))
                   (f64x2.mul (f64x2.mul (local.get $C2) (local.get $gl)) (local.get $gl))))
      (local.set $vh
        (f64x2.add (f64x2.mul (local.get $B2) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
                   (f64x2.mul (f64x2.mul (local.get $C2) (local.get $gh)) (local.get $gh))))
      ;; two f64x2 demoted and joined into one f32x4
      (v128.store (i32.add (local.get $m) (local.get $i))
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (local.get $ml)) (f32x4.demote_f64x2_zero (local.get $mh))))
      (v128.store (i32.add (local.get $v) (local.get $i))
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (local.get $vl)) (f32x4.demote_f64x2_zero (local.get $vh))))
      (local.set $x (v128.load (i32.add (local.get $p) (local.get $i))))
      (local.set $pl (f64x2.promote_low_f32x4 (local.get $x)))
      (local.set $ph (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
      (local.set $pl
        (f64x2.sub (local.get $pl)
          (f64x2.mul (local.get $LR)
            (f64x2.add
              (f64x2.div (f64x2.div (local.get $ml) (local.get $BC1))
                         (f64x2.add (f64x2.sqrt (f64x2.div (local.get $vl) (local.get $BC2))) (local.get $EPS)))
              (f64x2.mul (local.get $WD) (local.get $pl))))))
      (local.set $ph
        (f64x2.sub (local.get $ph)
          (f64x2.mul (local.get $LR)
            (f64x2.add
              (f64x2.div (f64x2.div (local.get $mh) (local.get $BC1))
                         (f64x2.add (f64x2.sqrt (f64x2.div (local.get $vh) (local.get $BC2))) (local.get $EPS)))
              (f64x2.mul (local.get $WD) (local.get $ph))))))
      (v128.store (i32.add (local.get $p) (local.get $i))
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (local.get $pl)) (f32x4.demote_f64x2_zero (local.get $ph))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $end)))))

  ;; out[r] = table[ids[r]] for r < rows, rows of dim floats; ids (i32) already checked in range.
  (func (export "gather") (param $table i32) (param $ids i32) (param $out i32) (param $rows i32) (param $dim i32)
    (local $rowBytes i32) (local $end i32)
    (if (i32.eqz (local.get $rows)) (then (return)))
    (local.set $rowBytes (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $rows) (i32.const 2))))
    (loop $row
      (memory.copy (local.get $out)
        (i32.add (local.get $table) (i32.mul (i32.load (local.get $ids)) (local.get $rowBytes)))
        (local.get $rowBytes))
      (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
      (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
      (br_if $row (i32.lt_u (local.get $ids) (local.get $end)))))

  ;; dTable[ids[r]] += dOut[r] for r = 0, 1, … in order (repeated ids sum in a fixed order);
  ;; dim a multiple of 4.
  (func (export "scatterAdd") (param $dOut i32) (param $ids i32) (param $dTable i32) (param $rows i32) (param $dim i32)
    (local $rowBytes i32) (local $end i32) (local $dst i32) (local $j i32)
    (if (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $dim))) (then (return)))
    (local.set $rowBytes (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $rows) (i32.const 2))))
    (loop $row
      (local.set $dst (i32.add (local.get $dTable) (i32.mul (i32.load (local.get $ids)) (local.get $rowBytes))))
      (local.set $j (i32.const 0))
      (loop $col
        (v128.store (i32.add (local.get $dst) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $j)))
                     (v128.load (i32.add (local.get $dOut) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $col (i32.lt_u (local.get $j) (local.get $rowBytes))))
      (local.set $dOut (i32.add (local.get $dOut) (local.get $rowBytes)))
      (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
      (br_if $row (i32.lt_u (local.get $ids) (local.get $end)))))

  ;; SGD with momentum (update.ts: PyTorch semantics, dampening 0) over n floats, in f64x2 lanes
  ;; like AdamW, in update.ts's order:
  ;;   g ← g + wd·p;  without momentum p ← p − lr·g; with it
  ;;   b ← g on the first step, else μ·b + g;  p ← p − lr·(Nesterov ? g + μ·b : b)
  ;; where the p update uses b before it is rounded to float32. The caller decides the flags
  ;; (μ ≠ 0, first step, Nesterov) in JavaScript; b is read only when it is: μ ≠ 0, not the first step.
  (func (export "sgd") (param $p i32) (param $g i32) (param $b i32) (param $n i32)
        (param $lr f64) (param $mu f64) (param $wd f64)
        (param $momentum i32) (param $first i32) (param $nesterov i32)
    (local $i i32) (local $end i32) (local $x v128)
    (local $pl v128) (local $ph v128) (local $gl v128) (local $gh v128) (local $bl v128) (local $bh v128)
    (local $LR v128) (local $MU v128) (local $WD v128)
    (if (i32.eqz (local.get $n)) (then (return)))
    (local.set $LR (f64x2.splat (local.get $lr)))
    (local.set $MU (f64x2.splat (local.get $mu)))
    (local.set $WD (f64x2.splat (local.get $wd)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (loop $l
      (local.set $x (v128.load (i32.add (local.get $p) (local.get $i))))
      (local.set $pl (f64x2.promote_low_f32x4 (local.get $x)))
      (local.set $ph (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
      (local.set $x (v128.load (i32.add (local.get $g) (local.get $i))))
      (local.set $gl (f64x2.add (f64x2.promote_low_f32x4 (local.get $x)) (f64x2.mul (local.get $WD) (local.get $pl))))
      (local.set $gh (f64x2.add (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))) (f64x2.mul (local.get $WD) (local.get $ph))))
      (if (local.get $momentum)
        (then
          (if (local.get $first)
            (then
              (local.set $bl (local.get $gl))
              (local.set $bh (local.get $gh)))
            (else
              (local.set $x (v128.load (i32.add (local.get $b) (local.get $i))))
              (local.set $bl (f64x2.add (f64x2.mul (local.get $MU) (f64x2.promote_low_f32x4 (local.get $x))) (local.get $gl)))
              (local.set $bh (f64x2.add (f64x2.mul (local.get $MU) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))) (local.get $gh)))))
          (v128.store (i32.add (local.get $b) (local.get $i))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $bl)) (f32x4.demote_f64x2_zero (local.get $bh))))
          ;; the direction replaces g: b, or g + μ·b with Nesterov
          (if (local.get $nesterov)
            (then
              (local.set $gl (f64x2.add (local.get $gl) (f64x2.mul (local.get $MU) (local.get $bl))))
              (local.set $gh (f64x2.add (local.get $gh) (f64x2.mul (local.get $MU) (local.get $bh)))))
            (else
              (local.set $gl (local.get $bl))
              (local.set $gh (local.get $bh))))))
      (v128.store (i32.add (local.get $p) (local.get $i))
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (f64x2.sub (local.get $pl) (f64x2.mul (local.get $LR) (local.get $gl))))
          (f32x4.demote_f64x2_zero (f64x2.sub (local.get $ph) (f64x2.mul (local.get $LR) (local.get $gh))))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $end)))))
)
