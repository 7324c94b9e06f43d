/**
 * convlens's WebAssembly SIMD kernels, as WebAssembly text. Assembled by `wabt` (npm) when the wasm engine loads
 * (simd.ts) — no binary is committed — and instantiated on tfjs-backend-wasm's own memory, so they read and write
 * tensors where they lie (a shared memory with the threaded binary). Every pointer is a byte offset into that memory; `n` counts float32 elements. Four lanes
 * per step, then a scalar tail.
 */
// Elementwise loops (mask_grad, adam): $i is the byte offset, 4 lanes per step, then a scalar tail up to $n.
const ELEMENT_LOCALS = '(local $i i32) (local $end i32)';
const overElements = (vector: string, scalar: string) => `
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))${vector}
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $tdone
      (loop $tnext
        (br_if $tdone (i32.ge_u (local.get $i) (local.get $end)))${scalar}
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tnext)))`;

// Channel-last loops for the batch-norm kernels: rows outer; channels inner, 4 per step, then a scalar tail.
// In the bodies, $off is the row's byte offset (r · C · 4) and $c the channel.
const ROW_LOCALS = '(local $r i32) (local $c i32) (local $C4 i32) (local $off i32)';
/** The address of element [r, c] of the channel-last tensor at `ptr`. */
const at = (ptr: string) => `(i32.add (local.get ${ptr}) (i32.add (local.get $off) (i32.shl (local.get $c) (i32.const 2))))`;
/** The address of per-channel float32 c at `ptr`. */
const channel = (ptr: string) => `(i32.add (local.get ${ptr}) (i32.shl (local.get $c) (i32.const 2)))`;
/** The address of per-channel float64 c at `ptr`. */
const channel64 = (ptr: string) => `(i32.add (local.get ${ptr}) (i32.shl (local.get $c) (i32.const 3)))`;
/** Lanes 0–1 and 2–3 of a float32x4 local, as float64x2. */
const low = (v: string) => `(f64x2.promote_low_f32x4 (local.get ${v}))`;
const high = (v: string) => `(f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get ${v}) (local.get ${v})))`;
/** Add two float64x2 values to the four float64s at the address in local `a`. */
const accumulate2 = (a: string, lo: string, hi: string) => `
            (v128.store align=8 (local.get ${a}) (f64x2.add (v128.load align=8 (local.get ${a})) ${lo}))
            (v128.store offset=16 align=8 (local.get ${a}) (f64x2.add (v128.load offset=16 align=8 (local.get ${a})) ${hi}))`;
const overRowsAndChannels = (vector: string, scalar: string) => `
    (local.set $C4 (i32.and (local.get $C) (i32.const -4)))
    (local.set $off (i32.const 0))
    (local.set $r (i32.const 0))
    (block $rdone
      (loop $rnext
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $c (i32.const 0))
        (block $vdone
          (loop $vnext
            (br_if $vdone (i32.ge_u (local.get $c) (local.get $C4)))${vector}
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $vnext)))
        (block $sdone
          (loop $snext
            (br_if $sdone (i32.ge_u (local.get $c) (local.get $C)))${scalar}
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $snext)))
        (local.set $off (i32.add (local.get $off) (i32.shl (local.get $C) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rnext)))`;

export const kernelsWat = (sharedMemory: boolean) => String.raw`
(module
  ${sharedMemory ? '(import "env" "memory" (memory 1 65536 shared))' : '(import "env" "memory" (memory 0))'}

  ;; The mask m = lo (< or ≤) x ≤ hi; loOpen ≠ 0: lo < x; loOpen = 0: lo ≤ x.
  ;; multiply = 0: out = m ? dy : +0 (tfjs's where/select, ClipByValue's gradient).
  ;; multiply ≠ 0: out = dy · (x is NaN ? NaN : m ? 1 : 0) (tfjs's mul(dy, cast(mask)), Relu's and Relu6's:
  ;; −0 for negative dy, NaN for NaN x or infinite dy outside the mask).
  (func (export "mask_grad")
    (param $dy i32) (param $x i32) (param $out i32) (param $n i32)
    (param $lo f32) (param $hi f32) (param $loOpen i32) (param $multiply i32)
    ${ELEMENT_LOCALS} (local $xv v128) (local $m v128)
    (local $lo4 v128) (local $hi4 v128) (local $open4 v128) (local $mul4 v128) (local $one4 v128)
    (local $xs f32) (local $keep i32) (local $ms f32)
    (local.set $lo4 (f32x4.splat (local.get $lo)))
    (local.set $hi4 (f32x4.splat (local.get $hi)))
    (local.set $open4 (i32x4.splat (i32.sub (i32.const 0) (i32.ne (local.get $loOpen) (i32.const 0)))))
    (local.set $mul4 (i32x4.splat (i32.sub (i32.const 0) (i32.ne (local.get $multiply) (i32.const 0)))))
    (local.set $one4 (f32x4.splat (f32.const 1)))
    ${overElements(`
        (local.set $xv (v128.load align=4 (i32.add (local.get $x) (local.get $i))))
        (local.set $m
          (v128.and
            (v128.bitselect
              (f32x4.gt (local.get $xv) (local.get $lo4))
              (f32x4.ge (local.get $xv) (local.get $lo4))
              (local.get $open4))
            (f32x4.le (local.get $xv) (local.get $hi4))))
        (v128.store align=4 (i32.add (local.get $out) (local.get $i))
          (v128.bitselect
            ;; multiply: dy · (NaN where x is NaN, else 1 or 0)
            (f32x4.mul
              (v128.load align=4 (i32.add (local.get $dy) (local.get $i)))
              (v128.bitselect (local.get $xv) (v128.and (local.get $m) (local.get $one4)) (f32x4.ne (local.get $xv) (local.get $xv))))
            ;; select: dy or +0
            (v128.and (v128.load align=4 (i32.add (local.get $dy) (local.get $i))) (local.get $m))
            (local.get $mul4)))`, `
        (local.set $xs (f32.load (i32.add (local.get $x) (local.get $i))))
        (local.set $keep
          (i32.and
            (select (f32.gt (local.get $xs) (local.get $lo)) (f32.ge (local.get $xs) (local.get $lo)) (local.get $loOpen))
            (f32.le (local.get $xs) (local.get $hi))))
        (local.set $ms (select (local.get $xs) (select (f32.const 1) (f32.const 0) (local.get $keep)) (f32.ne (local.get $xs) (local.get $xs))))
        (f32.store (i32.add (local.get $out) (local.get $i))
          (select
            (f32.mul (f32.load (i32.add (local.get $dy) (local.get $i))) (local.get $ms))
            (select (f32.load (i32.add (local.get $dy) (local.get $i))) (f32.const 0) (local.get $keep))
            (local.get $multiply)))`)})

  ;; Adam (Kingma & Ba 2015, as tfjs's AdamOptimizer computes it), one pass:
  ;; m' = b1 m + (1 − b1) g;  v' = b2 v + (1 − b2) g²;  x' = x − lr (m' / c1) / (sqrt(v' / c2) + eps)
  ;; with c1 = 1 − b1^t, c2 = 1 − b2^t. Reads x, g, m, v; writes x', m', v' to their own outputs.
  (func (export "adam")
    (param $x i32) (param $g i32) (param $m i32) (param $v i32)
    (param $xo i32) (param $mo i32) (param $vo i32) (param $n i32)
    (param $lr f32) (param $b1 f32) (param $b2 f32) (param $eps f32) (param $c1 f32) (param $c2 f32)
    ${ELEMENT_LOCALS} (local $gv v128) (local $mv v128) (local $vv v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    ${overElements(`
        (local.set $gv (v128.load align=4 (i32.add (local.get $g) (local.get $i))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.load align=4 (i32.add (local.get $m) (local.get $i))) (f32x4.splat (local.get $b1)))
            (f32x4.mul (local.get $gv) (f32x4.splat (f32.sub (f32.const 1) (local.get $b1))))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load align=4 (i32.add (local.get $v) (local.get $i))) (f32x4.splat (local.get $b2)))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))))
        (v128.store align=4 (i32.add (local.get $mo) (local.get $i)) (local.get $mv))
        (v128.store align=4 (i32.add (local.get $vo) (local.get $i)) (local.get $vv))
        (v128.store align=4 (i32.add (local.get $xo) (local.get $i))
          (f32x4.sub
            (v128.load align=4 (i32.add (local.get $x) (local.get $i)))
            (f32x4.mul
              (f32x4.splat (local.get $lr))
              (f32x4.div
                (f32x4.div (local.get $mv) (f32x4.splat (local.get $c1)))
                (f32x4.add (f32x4.sqrt (f32x4.div (local.get $vv) (f32x4.splat (local.get $c2)))) (f32x4.splat (local.get $eps)))))))`, `
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $i))))
        (local.set $ms
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $i))) (local.get $b1))
            (f32.mul (local.get $gs) (f32.sub (f32.const 1) (local.get $b1)))))
        (local.set $vs
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $i))) (local.get $b2))
            (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (f32.sub (f32.const 1) (local.get $b2)))))
        (f32.store (i32.add (local.get $mo) (local.get $i)) (local.get $ms))
        (f32.store (i32.add (local.get $vo) (local.get $i)) (local.get $vs))
        (f32.store (i32.add (local.get $xo) (local.get $i))
          (f32.sub
            (f32.load (i32.add (local.get $x) (local.get $i)))
            (f32.mul
              (local.get $lr)
              (f32.div
                (f32.div (local.get $ms) (local.get $c1))
                (f32.add (f32.sqrt (f32.div (local.get $vs) (local.get $c2))) (local.get $eps))))))`)})
  ;; Batch-norm statistics over rows (N·H·W) of channel-last data: acc[c] (f64) += d or d², d = x[r, c] − center[c],
  ;; in float64 (f32 inputs promoted). square ≠ 0 sums squares.
  (func (export "bn_sums")
    (param $x i32) (param $rows i32) (param $C i32) (param $center i32) (param $acc i32) (param $square i32)
    ${ROW_LOCALS} (local $xv v128) (local $mv v128) (local $lo v128) (local $hi v128) (local $a i32) (local $d f64)
    ${overRowsAndChannels(`
            (local.set $xv (v128.load align=4 ${at('$x')}))
            (local.set $mv (v128.load align=4 ${channel('$center')}))
            (local.set $lo (f64x2.sub ${low('$xv')} ${low('$mv')}))
            (local.set $hi (f64x2.sub ${high('$xv')} ${high('$mv')}))
            (if (local.get $square)
              (then
                (local.set $lo (f64x2.mul (local.get $lo) (local.get $lo)))
                (local.set $hi (f64x2.mul (local.get $hi) (local.get $hi)))))
            (local.set $a ${channel64('$acc')})
            ${accumulate2('$a', '(local.get $lo)', '(local.get $hi)')}`, `
            (local.set $d (f64.sub (f64.promote_f32 (f32.load ${at('$x')})) (f64.promote_f32 (f32.load ${channel('$center')}))))
            (if (local.get $square) (then (local.set $d (f64.mul (local.get $d) (local.get $d)))))
            (local.set $a ${channel64('$acc')})
            (f64.store (local.get $a) (f64.add (f64.load (local.get $a)) (local.get $d)))`)})

  ;; The batch-norm gradient's sums, in float64: accDy[c] += dy[r, c]; accDyX[c] += dy[r, c] · (x[r, c] − mean[c]).
  (func (export "bn_grad_sums")
    (param $dy i32) (param $x i32) (param $rows i32) (param $C i32) (param $mean i32) (param $accDy i32) (param $accDyX i32)
    ${ROW_LOCALS} (local $gv v128) (local $xv v128) (local $mv v128)
    (local $glo v128) (local $ghi v128) (local $a i32) (local $b i32) (local $g f64) (local $d f64)
    ${overRowsAndChannels(`
            (local.set $gv (v128.load align=4 ${at('$dy')}))
            (local.set $xv (v128.load align=4 ${at('$x')}))
            (local.set $mv (v128.load align=4 ${channel('$mean')}))
            (local.set $glo ${low('$gv')})
            (local.set $ghi ${high('$gv')})
            (local.set $a ${channel64('$accDy')})
            (local.set $b ${channel64('$accDyX')})
            ${accumulate2('$a', '(local.get $glo)', '(local.get $ghi)')}
            ${accumulate2('$b', `(f64x2.mul (local.get $glo) (f64x2.sub ${low('$xv')} ${low('$mv')}))`, `(f64x2.mul (local.get $ghi) (f64x2.sub ${high('$xv')} ${high('$mv')}))`)}`, `
            (local.set $g (f64.promote_f32 (f32.load ${at('$dy')})))
            (local.set $d (f64.sub (f64.promote_f32 (f32.load ${at('$x')})) (f64.promote_f32 (f32.load ${channel('$mean')}))))
            (local.set $a ${channel64('$accDy')})
            (local.set $b ${channel64('$accDyX')})
            (f64.store (local.get $a) (f64.add (f64.load (local.get $a)) (local.get $g)))
            (f64.store (local.get $b) (f64.add (f64.load (local.get $b)) (f64.mul (local.get $g) (local.get $d))))`)})

  ;; out[r, c] = k1[c] · a[r, c] + k2[c] · (b[r, c] − m[c]) + k0[c]: batch norm forward (a = b = x, k1 = 0,
  ;; m = mean, k2 = γ/σ, k0 = β) and its input gradient (a = dy, b = x). Centring before scaling keeps it exact
  ;; when |mean| ≫ σ.
  (func (export "affine3")
    (param $pa i32) (param $pb i32) (param $rows i32) (param $C i32) (param $k1 i32) (param $k2 i32) (param $m i32) (param $k0 i32) (param $out i32)
    ${ROW_LOCALS}
    ${overRowsAndChannels(`
            (v128.store align=4 ${at('$out')}
              (f32x4.add
                (f32x4.add
                  (f32x4.mul (v128.load align=4 ${channel('$k1')}) (v128.load align=4 ${at('$pa')}))
                  (f32x4.mul (v128.load align=4 ${channel('$k2')}) (f32x4.sub (v128.load align=4 ${at('$pb')}) (v128.load align=4 ${channel('$m')}))))
                (v128.load align=4 ${channel('$k0')})))`, `
            (f32.store ${at('$out')}
              (f32.add
                (f32.add
                  (f32.mul (f32.load ${channel('$k1')}) (f32.load ${at('$pa')}))
                  (f32.mul (f32.load ${channel('$k2')}) (f32.sub (f32.load ${at('$pb')}) (f32.load ${channel('$m')}))))
                (f32.load ${channel('$k0')})))`)})
)
`;
