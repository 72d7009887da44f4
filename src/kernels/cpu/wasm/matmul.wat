;; Single-precision matrix multiply with WebAssembly SIMD (f32x4), compiled to
;; matmulWasm.generated.ts by scripts/build-wasm.ts. The module imports the kernels instance's shared
;; memory, where the run's tensors live; the TypeScript side (matmulWasm.ts, operandHeap.ts) passes
;; their byte offsets, copying in only operands that live elsewhere.
;;
;; Method (as in GotoBLAS): op(B) is packed into column panels `[⌈n/8⌉][kc][8]` and op(A) into row
;; panels `[kc][4]` (zero padded), so every transpose combination runs the same 4×8 micro-kernel
;; whose loads are sequential. Packing copies whole vectors where the source is contiguous (A
;; stored [k, m], B stored [k, n]) and goes float by float otherwise; it costs O(mk + kn) against
;; O(mnk) arithmetic.
;;
;; Why 4×8: V8 (TurboFan) allocates 15 of the 16 SIMD registers and schedules every load of a loop
;; body at its top, before the arithmetic that uses it. One step of an r×8 tile loads two B
;; vectors and r broadcast A values, so 2r accumulators + 2 + r values are live at once, plus one
;; register for a product: 4 rows need 15, which fits; 6 rows need 21, and V8 spilled six
;; accumulators to the stack and reloaded them on every step (≈32 GFLOP/s, against ≈50 for 4×8
;; at the model's shapes). Unrolling the step loop would hoist twice the loads and spill the same way.
;;
;; Fused multiply-add: scripts/build-wasm.ts also assembles a second module from this text with
;; each `c + a·b` of the micro-kernel rewritten to `f32x4.relaxed_madd` (relaxed SIMD), which
;; matmulWasm.ts uses where the runtime validates it. A fused multiply-add rounds once where
;; mul + add rounds twice, so the two modules give different (equally accurate) bits; each is
;; deterministic. Keep the micro-kernel's multiply-adds in the exact form
;; `(f32x4.add (local.get $cRJ) (f32x4.mul (local.get $a) (local.get $bJ)))` the rewrite matches.
;;
;; Accuracy: products are summed in float32 over blocks of at most kc steps of the shared
;; dimension (kc is chosen by the caller), and the block sums are added to C in order, so an
;; entry's rounding error grows with about kc + k/kc additions rather than k. The order of every
;; addition is fixed by (m, n, k, kc) alone (not by the tile shape), so results are bit-for-bit
;; deterministic.
;;
;; C is held padded to `ldc = ⌈n/8⌉·8` columns and a whole number of 4-row blocks, so the
;; micro-kernel never branches on sizes: when n is not a multiple of 8, $matmul spreads an
;; accumulated C out to the padded layout first and packs the result back to `[m, n]` at the end.
(module
  (import "env" "memory" (memory 1 32768 shared))

  ;; pa[(p·4 + r)] = op(A)[i0 + r, p0 + p] for p < kc, r < 4; rows r ≥ rows are zero.
  ;; op(A)[i, p] is the float at a + 4·(i·ais + p·aps).
  (func $packA (param $a i32) (param $ais i32) (param $aps i32) (param $i0 i32) (param $rows i32)
               (param $p0 i32) (param $kc i32) (param $pa i32)
    (local $r i32) (local $src i32) (local $step i32) (local $dst i32) (local $end i32)
    (local.set $step (i32.shl (local.get $aps) (i32.const 2)))
    ;; A stored [k, m] and a full block: the 4 values of one p are contiguous
    (if (i32.and (i32.eq (local.get $ais) (i32.const 1)) (i32.ge_u (local.get $rows) (i32.const 4)))
      (then
        (local.set $src
          (i32.add (local.get $a)
            (i32.shl (i32.add (local.get $i0) (i32.mul (local.get $p0) (local.get $aps))) (i32.const 2))))
        (local.set $dst (local.get $pa))
        (local.set $end (i32.add (local.get $pa) (i32.mul (local.get $kc) (i32.const 16))))
        (loop $copy4
          (v128.store (local.get $dst) (v128.load (local.get $src)))
          (local.set $src (i32.add (local.get $src) (local.get $step)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
          (br_if $copy4 (i32.lt_u (local.get $dst) (local.get $end))))
        (return)))
    (loop $row
      (local.set $dst (i32.add (local.get $pa) (i32.shl (local.get $r) (i32.const 2))))
      (local.set $end (i32.add (local.get $dst) (i32.mul (local.get $kc) (i32.const 16))))
      (if (i32.lt_u (local.get $r) (local.get $rows))
        (then
          (local.set $src
            (i32.add (local.get $a)
              (i32.shl
                (i32.add
                  (i32.mul (i32.add (local.get $i0) (local.get $r)) (local.get $ais))
                  (i32.mul (local.get $p0) (local.get $aps)))
                (i32.const 2))))
          (loop $copy
            (f32.store (local.get $dst) (f32.load (local.get $src)))
            (local.set $src (i32.add (local.get $src) (local.get $step)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
            (br_if $copy (i32.lt_u (local.get $dst) (local.get $end)))))
        (else
          (loop $zero
            (f32.store (local.get $dst) (f32.const 0))
            (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
            (br_if $zero (i32.lt_u (local.get $dst) (local.get $end))))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $row (i32.lt_u (local.get $r) (i32.const 4)))))

  ;; pb[(jb·kc + p)·8 + q] = op(B)[p0 + p, 8·jb + q] for p < kc, 8·jb + q < npad; columns ≥ n are zero.
  ;; op(B)[p, j] is the float at b + 4·(p·bps + j·bjs).
  (func $packB (param $b i32) (param $bps i32) (param $bjs i32) (param $n i32) (param $npad i32)
               (param $p0 i32) (param $kc i32) (param $pb i32)
    (local $j i32) (local $src i32) (local $step i32) (local $dst i32) (local $end i32)
    (local.set $step (i32.shl (local.get $bps) (i32.const 2)))
    ;; B stored [k, n]: whole panels copy 8 contiguous values per p
    (if (i32.eq (local.get $bjs) (i32.const 1))
      (then
        (local.set $dst (local.get $pb))
        (block $done
          (loop $panel
            (br_if $done (i32.gt_u (i32.add (local.get $j) (i32.const 8)) (local.get $n)))
            (local.set $src
              (i32.add (local.get $b)
                (i32.shl (i32.add (i32.mul (local.get $p0) (local.get $bps)) (local.get $j)) (i32.const 2))))
            (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $kc) (i32.const 5))))
            (loop $copy8
              (v128.store (local.get $dst) (v128.load (local.get $src)))
              (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src)))
              (local.set $src (i32.add (local.get $src) (local.get $step)))
              (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
              (br_if $copy8 (i32.lt_u (local.get $dst) (local.get $end))))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $panel)))
        (if (i32.ge_u (local.get $j) (local.get $npad)) (then (return)))))
    ;; the rest (B stored [n, k], or the ragged last panel) column by column
    (loop $col
      ;; column j sits in panel j >> 3 at lane j & 7
      (local.set $dst
        (i32.add (local.get $pb)
          (i32.add
            (i32.mul (i32.shr_u (local.get $j) (i32.const 3)) (i32.shl (local.get $kc) (i32.const 5)))
            (i32.shl (i32.and (local.get $j) (i32.const 7)) (i32.const 2)))))
      (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $kc) (i32.const 5))))
      (if (i32.lt_u (local.get $j) (local.get $n))
        (then
          (local.set $src
            (i32.add (local.get $b)
              (i32.shl
                (i32.add
                  (i32.mul (local.get $p0) (local.get $bps))
                  (i32.mul (local.get $j) (local.get $bjs)))
                (i32.const 2))))
          (loop $copy
            (f32.store (local.get $dst) (f32.load (local.get $src)))
            (local.set $src (i32.add (local.get $src) (local.get $step)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (br_if $copy (i32.lt_u (local.get $dst) (local.get $end)))))
        (else
          (loop $zero
            (f32.store (local.get $dst) (f32.const 0))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (br_if $zero (i32.lt_u (local.get $dst) (local.get $end))))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br_if $col (i32.lt_u (local.get $j) (local.get $npad)))))

  ;; The 4×8 micro-kernel: the tile at c (row stride ldc bytes) gets Σ_p pa[p][r]·pb[p][q] over
  ;; kc ≥ 1 steps, stored when add = 0 and added to what is there otherwise.
  (func $tile (param $pa i32) (param $pb i32) (param $kc i32) (param $c i32) (param $ldc i32) (param $add i32)
    (local $end i32) (local $a v128) (local $b0 v128) (local $b1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $end (i32.add (local.get $pa) (i32.mul (local.get $kc) (i32.const 16))))
    (loop $step
      (local.set $b0 (v128.load (local.get $pb)))
      (local.set $b1 (v128.load offset=16 (local.get $pb)))
      (local.set $a (v128.load32_splat offset=0 (local.get $pa)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat offset=4 (local.get $pa)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat offset=8 (local.get $pa)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat offset=12 (local.get $pa)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 32)))
      (br_if $step (i32.ne (local.get $pa) (local.get $end))))
    (if (local.get $add)
      (then
        (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c00)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c01)))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c10)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c11)))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c20)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c21)))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c30)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c31))))
      (else
        (v128.store (local.get $c) (local.get $c00))
        (v128.store offset=16 (local.get $c) (local.get $c01))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (local.get $c10))
        (v128.store offset=16 (local.get $c) (local.get $c11))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (local.get $c20))
        (v128.store offset=16 (local.get $c) (local.get $c21))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (local.get $c30))
        (v128.store offset=16 (local.get $c) (local.get $c31)))))

  ;; C (+)= op(A)·op(B) with A, B, C, the A panel (kcMax·4 floats) and the B panels
  ;; (kcMax·⌈n/8⌉·8 floats) at the given byte offsets; C must have room for ⌈m/4⌉·4 rows of
  ;; ⌈n/8⌉·8 floats. A is [m, k] ([k, m] when ta), B is [k, n] ([n, k] when tb); m, n, k ≥ 1.
  ;; On return C[0 .. m·n) holds the result row-major.
  (func (export "matmul") (param $a i32) (param $b i32) (param $c i32) (param $pa i32) (param $pb i32)
        (param $m i32) (param $n i32) (param $k i32) (param $ta i32) (param $tb i32) (param $acc i32)
        (param $kcMax i32)
    (local $ais i32) (local $aps i32) (local $bps i32) (local $bjs i32) (local $npad i32) (local $ldc i32)
    (local $rowBytes i32) (local $i i32) (local $p0 i32) (local $kc i32) (local $add i32) (local $i0 i32)
    (local $crow i32) (local $panel i32) (local $panelEnd i32) (local $panelBytes i32) (local $ctile i32)
    (if (local.get $ta)
      (then (local.set $ais (i32.const 1)) (local.set $aps (local.get $m)))
      (else (local.set $ais (local.get $k)) (local.set $aps (i32.const 1))))
    (if (local.get $tb)
      (then (local.set $bps (i32.const 1)) (local.set $bjs (local.get $k)))
      (else (local.set $bps (local.get $n)) (local.set $bjs (i32.const 1))))
    (local.set $npad (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8)))
    (local.set $ldc (i32.shl (local.get $npad) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
    ;; spread an accumulated [m, n] C out to rows of ldc bytes, last row first (in place)
    (if (i32.and (local.get $acc) (i32.ne (local.get $npad) (local.get $n)))
      (then
        (local.set $i (local.get $m))
        (loop $spread
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (memory.copy
            (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc)))
            (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $rowBytes)))
            (local.get $rowBytes))
          (br_if $spread (i32.gt_u (local.get $i) (i32.const 1))))))
    (loop $kblock
      (local.set $kc (i32.sub (local.get $k) (local.get $p0)))
      (if (i32.gt_u (local.get $kc) (local.get $kcMax)) (then (local.set $kc (local.get $kcMax))))
      (local.set $add (i32.or (local.get $acc) (i32.ne (local.get $p0) (i32.const 0))))
      (local.set $panelBytes (i32.shl (local.get $kc) (i32.const 5)))
      (call $packB (local.get $b) (local.get $bps) (local.get $bjs) (local.get $n) (local.get $npad)
                   (local.get $p0) (local.get $kc) (local.get $pb))
      (local.set $i0 (i32.const 0))
      (loop $rowblock
        (call $packA (local.get $a) (local.get $ais) (local.get $aps) (local.get $i0)
                     (i32.sub (local.get $m) (local.get $i0)) (local.get $p0) (local.get $kc) (local.get $pa))
        (local.set $ctile (i32.add (local.get $c) (i32.mul (local.get $i0) (local.get $ldc))))
        (local.set $panel (local.get $pb))
        (local.set $panelEnd (i32.add (local.get $pb) (i32.mul (local.get $panelBytes) (i32.shr_u (local.get $npad) (i32.const 3)))))
        (loop $col
          (call $tile (local.get $pa) (local.get $panel) (local.get $kc) (local.get $ctile) (local.get $ldc) (local.get $add))
          (local.set $ctile (i32.add (local.get $ctile) (i32.const 32)))
          (local.set $panel (i32.add (local.get $panel) (local.get $panelBytes)))
          (br_if $col (i32.lt_u (local.get $panel) (local.get $panelEnd))))
        (local.set $i0 (i32.add (local.get $i0) (i32.const 4)))
        (br_if $rowblock (i32.lt_u (local.get $i0) (local.get $m))))
      (local.set $p0 (i32.add (local.get $p0) (local.get $kc)))
      (br_if $kblock (i32.lt_u (local.get $p0) (local.get $k))))
    ;; pack the padded rows back to [m, n], first row first (in place)
    (if (i32.ne (local.get $npad) (local.get $n))
      (then
        (local.set $i (i32.const 1))
        (loop $gather
          (if (i32.lt_u (local.get $i) (local.get $m))
            (then
              (memory.copy
                (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $rowBytes)))
                (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc)))
                (local.get $rowBytes))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $gather)))))))
)
