/**
 * convlens's WebAssembly SIMD kernels, as WebAssembly text. Assembled by `wabt` (npm) when the wasm engine loads
 * (simd.ts) — no binary is committed — and instantiated on tfjs-backend-wasm's own memory, so they read and write
 * tensors where they lie (a shared memory with the threaded binary). Every pointer is a byte offset into that memory; `n` counts float32 elements. Four lanes
 * per step, then a scalar tail.
 */
import { forFromTo, forRange } from './wat.ts';
import { filterGradWat } from './filter-grad.wat.ts';
import { winogradWat } from './winograd.wat.ts';

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


// Copy $cb bytes (a pixel's channels) from $src to $dst, 16 at a time then 4 at a time; $cb16 = $cb rounded down to 16.
const COPY_LOCALS = '(local $k i32) (local $cb i32) (local $cb16 i32)';
const setPixelBytes = (C: string) => `
    (local.set $cb (i32.shl (local.get ${C}) (i32.const 2)))
    (local.set $cb16 (i32.and (local.get $cb) (i32.const -16)))`;
const copyPixel = (dst: string, src: string) => `
            (local.set $k (i32.const 0))
            (block $cdone (loop $cnext
              (br_if $cdone (i32.ge_u (local.get $k) (local.get $cb16)))
              (v128.store align=4 (i32.add ${dst} (local.get $k)) (v128.load align=4 (i32.add ${src} (local.get $k))))
              (local.set $k (i32.add (local.get $k) (i32.const 16)))
              (br $cnext)))
            (block $sdone (loop $snext
              (br_if $sdone (i32.ge_u (local.get $k) (local.get $cb)))
              (f32.store (i32.add ${dst} (local.get $k)) (f32.load (i32.add ${src} (local.get $k))))
              (local.set $k (i32.add (local.get $k) (i32.const 4)))
              (br $snext)))`;
const get = (v: string) => `(local.get ${v})`;
const add = (a: string, b: string) => `(i32.add ${a} ${b})`;
const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;

/** max_pool_grad: for each of the 4 lanes whose window had a maximum, dx[at] += dy (lane l's dy is at byte 4·l). */
const maxPoolLanes = [0, 1, 2, 3].map((l) => `
              (local.set $idx (i32x4.extract_lane ${l} (local.get $at)))
              (if (i32.ge_s (local.get $idx) (i32.const 0)) (then
                (local.set $k (i32.add (local.get $dx) (local.get $idx)))
                (f32.store (local.get $k) (f32.add (f32.load (local.get $k)) (f32.load offset=${4 * l} (i32.add (local.get $dyp) (local.get $c)))))))`).join('');

/** Tiles of 16 along an axis: for (v = 0; v < limit; v = end) with end = min(v + 16, limit). */
const overTiles = (v: string, end: string, limit: string, body: string) => `
    (local.set ${v} (i32.const 0))
    (block ${v}_done (loop ${v}_next
      (br_if ${v}_done (i32.ge_u (local.get ${v}) (local.get ${limit})))
      (local.set ${end} (select (i32.add (local.get ${v}) (i32.const 16)) (local.get ${limit}) (i32.lt_u (i32.add (local.get ${v}) (i32.const 16)) (local.get ${limit}))))${body}
      (local.set ${v} (local.get ${end}))
      (br ${v}_next)))`;

/**
 * gemm_nt's rows of A `rows` at a time (while `rows` remain): for each of this thread's columns n, the `rows` dot
 * products with B's row n — k in lanes of 4 into v128 sums, the k % 4 tail into scalar sums, each output the sum of
 * its lanes plus its tail.
 */
const gemmNtRows = (rows: number) => {
  const R = Array.from({ length: rows }, (_, r) => r);
  const aRow = (r: number) => (r === 0 ? '(local.get $ap)' : `(i32.add (local.get $ap) (i32.mul (i32.const ${r}) (local.get $ks)))`);
  const lanes = (r: number) => `(f32.add (f32.add (f32x4.extract_lane 0 (local.get $s${r})) (f32x4.extract_lane 1 (local.get $s${r}))) (f32.add (f32x4.extract_lane 2 (local.get $s${r})) (f32x4.extract_lane 3 (local.get $s${r}))))`;
  return `
    (block $m${rows}_done (loop $m${rows}_next
      (br_if $m${rows}_done (i32.gt_u (i32.add (local.get $m) (i32.const ${rows})) (local.get $M)))${forFromTo('$n', '(local.get $n0)', '(local.get $n1)', `
        (local.set $bp (i32.add (local.get $b) (i32.mul (local.get $n) (local.get $ks))))
        (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $ks))))
        ${R.map((r) => `(local.set $s${r} (v128.const f32x4 0 0 0 0)) (local.set $t${r} (f32.const 0))`).join(' ')}
        (local.set $k (i32.const 0))
        (block $k4_done (loop $k4_next
          (br_if $k4_done (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $K)))
          (local.set $bv (v128.load align=4 (local.get $bp)))
          ${R.map((r) => `(local.set $s${r} (f32x4.add (local.get $s${r}) (f32x4.mul (v128.load align=4 ${aRow(r)}) (local.get $bv))))`).join('\n          ')}
          (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
          (local.set $bp (i32.add (local.get $bp) (i32.const 16)))
          (local.set $k (i32.add (local.get $k) (i32.const 4)))
          (br $k4_next)))
        (block $k1_done (loop $k1_next
          (br_if $k1_done (i32.ge_u (local.get $k) (local.get $K)))
          ${R.map((r) => `(local.set $t${r} (f32.add (local.get $t${r}) (f32.mul (f32.load ${aRow(r)}) (f32.load (local.get $bp)))))`).join('\n          ')}
          (local.set $ap (i32.add (local.get $ap) (i32.const 4)))
          (local.set $bp (i32.add (local.get $bp) (i32.const 4)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $k1_next)))
        (local.set $cp (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $m) (local.get $N)) (local.get $n)) (i32.const 2))))
        ${R.map((r) => `(f32.store ${r === 0 ? '(local.get $cp)' : `(i32.add (local.get $cp) (i32.mul (i32.const ${r}) (local.get $ns)))`} (f32.add ${lanes(r)} (local.get $t${r})))`).join('\n        ')}`)}
      (local.set $m (i32.add (local.get $m) (i32.const ${rows})))
      (br $m${rows}_next)))`;
};

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

  ;; Zero-insert and pad NHWC: out[b, padTop + y·sy, padLeft + x·sx, c] = x[b, y, x, c], zeros elsewhere; rows and
  ;; columns that fall outside [outH, outW] are dropped.
  (func (export "dilate_pad")
    (param $x i32) (param $out i32) (param $B i32) (param $H i32) (param $W i32) (param $C i32)
    (param $sy i32) (param $sx i32) (param $padTop i32) (param $padLeft i32) (param $outH i32) (param $outW i32)
    ${COPY_LOCALS} (local $b i32) (local $y i32) (local $xx i32) (local $oy i32) (local $ox i32)
    ${setPixelBytes('$C')}
    (memory.fill (local.get $out) (i32.const 0) ${mul(mul(mul(get('$B'), get('$outH')), get('$outW')), get('$cb'))})
    ${forRange('$b', get('$B'), forRange('$y', get('$H'), `
        (local.set $oy ${add(get('$padTop'), mul(get('$y'), get('$sy')))})
        (if (i32.lt_u (local.get $oy) (local.get $outH)) (then
          ${forRange('$xx', get('$W'), `
            (local.set $ox ${add(get('$padLeft'), mul(get('$xx'), get('$sx')))})
            (if (i32.lt_u (local.get $ox) (local.get $outW)) (then
              ${copyPixel(
                add(get('$out'), mul(add(mul(add(mul(get('$b'), get('$outH')), get('$oy')), get('$outW')), get('$ox')), get('$cb'))),
                add(get('$x'), mul(add(mul(add(mul(get('$b'), get('$H')), get('$y')), get('$W')), get('$xx')), get('$cb'))))}))`)}))`))})

  ;; im2col, transposed: row (tap i, tap j, channel c), column p = output pixel (b, oy, ox) of the N = B·OH·OW:
  ;; out[(i·fw + j)·C + c, p] = x[b, oy·sy + i·dh − top, ox·sx + j·dw − left, c], or 0 outside x.
  ;; Pixels go in blocks of 64 (their source addresses in a table at $scratch; pixels outside x point at C zeros
  ;; stored after the table), channels 4 at a time: 4 pixels x 4 channels are loaded, transposed in registers and
  ;; stored as 4 rows — sequential writes, and the block's input stays in cache across channel groups.
  (func (export "im2col_t")
    (param $x i32) (param $out i32) (param $scratch i32) (param $B i32) (param $H i32) (param $W i32) (param $C i32)
    (param $OH i32) (param $OW i32) (param $fh i32) (param $fw i32) (param $sy i32) (param $sx i32)
    (param $dh i32) (param $dw i32) (param $top i32) (param $left i32)
    (local $N i32) (local $rowBytes i32) (local $zero i32) (local $i i32) (local $j i32) (local $rowBase i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $p0 i32) (local $nblk i32) (local $nq4 i32) (local $q i32)
    (local $c i32) (local $k i32) (local $iy i32) (local $ix i32) (local $dst i32) (local $c4 i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $N ${mul(mul(get('$B'), get('$OH')), get('$OW'))})
    (local.set $rowBytes (i32.shl (local.get $N) (i32.const 2)))
    (local.set $zero (i32.add (local.get $scratch) (i32.const 256)))
    (local.set $c4 (i32.shl (i32.and (local.get $C) (i32.const -4)) (i32.const 2)))
    ${forRange('$i', get('$fh'), forRange('$j', get('$fw'), `
      (local.set $rowBase (i32.add (local.get $out) ${mul(mul(add(mul(get('$i'), get('$fw')), get('$j')), get('$C')), get('$rowBytes'))}))
      (local.set $b (i32.const 0)) (local.set $oy (i32.const 0)) (local.set $ox (i32.const 0))
      (local.set $p0 (i32.const 0))
      (block $blocks_done (loop $blocks_next
        (br_if $blocks_done (i32.ge_u (local.get $p0) (local.get $N)))
        (local.set $nblk (select (i32.const 64) (i32.sub (local.get $N) (local.get $p0)) (i32.ge_u (i32.sub (local.get $N) (local.get $p0)) (i32.const 64))))
        (local.set $nq4 (i32.and (local.get $nblk) (i32.const -4)))
        ;; The block's source addresses.
        ${forRange('$q', get('$nblk'), `
          (local.set $iy (i32.sub ${add(mul(get('$oy'), get('$sy')), mul(get('$i'), get('$dh')))} (local.get $top)))
          (local.set $ix (i32.sub ${add(mul(get('$ox'), get('$sx')), mul(get('$j'), get('$dw')))} (local.get $left)))
          (i32.store (i32.add (local.get $scratch) (i32.shl (local.get $q) (i32.const 2)))
            (select
              (i32.add (local.get $x) (i32.shl ${mul(add(mul(add(mul(get('$b'), get('$H')), get('$iy')), get('$W')), get('$ix')), get('$C'))} (i32.const 2)))
              (local.get $zero)
              (i32.and (i32.lt_u (local.get $iy) (local.get $H)) (i32.lt_u (local.get $ix) (local.get $W)))))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (if (i32.ge_u (local.get $ox) (local.get $OW)) (then
            (local.set $ox (i32.const 0))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (if (i32.ge_u (local.get $oy) (local.get $OH)) (then
              (local.set $oy (i32.const 0))
              (local.set $b (i32.add (local.get $b) (i32.const 1)))))))`)}
        ;; Four channels at a time (c counts bytes): 4x4 transposes, then the block's last pixels one by one.
        (local.set $c (i32.const 0))
        (block $cg_done (loop $cg_next
          (br_if $cg_done (i32.ge_u (local.get $c) (local.get $c4)))
          ;; dst = this tap's row for channel c (c counts bytes, so the row is c/4), at column p0.
          (local.set $dst (i32.add (local.get $rowBase) (i32.add ${mul(`(i32.shr_u (local.get $c) (i32.const 2))`, get('$rowBytes'))} (i32.shl (local.get $p0) (i32.const 2)))))
          (local.set $q (i32.const 0))
          (block $q_done (loop $q_next
            (br_if $q_done (i32.ge_u (local.get $q) (local.get $nq4)))
            (local.set $k (i32.add (local.get $scratch) (i32.shl (local.get $q) (i32.const 2))))
            (local.set $v0 (v128.load align=4 (i32.add (i32.load (local.get $k)) (local.get $c))))
            (local.set $v1 (v128.load align=4 (i32.add (i32.load offset=4 (local.get $k)) (local.get $c))))
            (local.set $v2 (v128.load align=4 (i32.add (i32.load offset=8 (local.get $k)) (local.get $c))))
            (local.set $v3 (v128.load align=4 (i32.add (i32.load offset=12 (local.get $k)) (local.get $c))))
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v2) (local.get $v3)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v2) (local.get $v3)))
            (local.set $k (i32.add (local.get $dst) (i32.shl (local.get $q) (i32.const 2))))
            (v128.store align=4 (local.get $k) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (local.set $k (i32.add (local.get $k) (local.get $rowBytes)))
            (v128.store align=4 (local.get $k) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (local.set $k (i32.add (local.get $k) (local.get $rowBytes)))
            (v128.store align=4 (local.get $k) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (local.set $k (i32.add (local.get $k) (local.get $rowBytes)))
            (v128.store align=4 (local.get $k) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $q (i32.add (local.get $q) (i32.const 4)))
            (br $q_next)))
          (block $qt_done (loop $qt_next
            (br_if $qt_done (i32.ge_u (local.get $q) (local.get $nblk)))
            (local.set $k (i32.add (i32.load (i32.add (local.get $scratch) (i32.shl (local.get $q) (i32.const 2)))) (local.get $c)))
            (local.set $v0 (v128.load align=4 (local.get $k)))
            (local.set $k (i32.add (local.get $dst) (i32.shl (local.get $q) (i32.const 2))))
            (f32.store (local.get $k) (f32x4.extract_lane 0 (local.get $v0)))
            (local.set $k (i32.add (local.get $k) (local.get $rowBytes)))
            (f32.store (local.get $k) (f32x4.extract_lane 1 (local.get $v0)))
            (local.set $k (i32.add (local.get $k) (local.get $rowBytes)))
            (f32.store (local.get $k) (f32x4.extract_lane 2 (local.get $v0)))
            (local.set $k (i32.add (local.get $k) (local.get $rowBytes)))
            (f32.store (local.get $k) (f32x4.extract_lane 3 (local.get $v0)))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $qt_next)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $cg_next)))
        ;; The last C mod 4 channels, one row at a time.
        (block $ct_done (loop $ct_next
          (br_if $ct_done (i32.ge_u (local.get $c) (i32.shl (local.get $C) (i32.const 2))))
          (local.set $dst (i32.add (local.get $rowBase) (i32.add ${mul(`(i32.shr_u (local.get $c) (i32.const 2))`, get('$rowBytes'))} (i32.shl (local.get $p0) (i32.const 2)))))
          ${forRange('$q', get('$nblk'), `
            (f32.store (i32.add (local.get $dst) (i32.shl (local.get $q) (i32.const 2)))
              (f32.load (i32.add (i32.load (i32.add (local.get $scratch) (i32.shl (local.get $q) (i32.const 2)))) (local.get $c))))`)}
          (local.set $c (i32.add (local.get $c) (i32.const 4)))
          (br $ct_next)))
        (local.set $p0 (i32.add (local.get $p0) (local.get $nblk)))
        (br $blocks_next)))`))})

  ;; MaxPoolGrad, NHWC: each output window's arg-max (the first maximum in row-major order, as tfjs's cpu backend
  ;; finds it; NaNs never win) gets dy added at that input position; dx is zero elsewhere. Four channels at a time.
  (func (export "max_pool_grad")
    (param $x i32) (param $dy i32) (param $dx i32) (param $B i32) (param $H i32) (param $W i32) (param $C i32)
    (param $OH i32) (param $OW i32) (param $fh i32) (param $fw i32) (param $sy i32) (param $sx i32) (param $top i32) (param $left i32)
    (local $cb i32) (local $c4 i32) (local $b i32) (local $oy i32) (local $ox i32) (local $y i32) (local $xx i32)
    (local $y0 i32) (local $x0 i32) (local $yS i32) (local $yE i32) (local $xS i32) (local $xE i32)
    (local $c i32) (local $a i32) (local $k i32) (local $idx i32) (local $dyp i32)
    (local $best v128) (local $at v128) (local $v v128) (local $m v128) (local $bs f32) (local $as i32) (local $vs f32)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $c4 (i32.shl (i32.and (local.get $C) (i32.const -4)) (i32.const 2)))
    (memory.fill (local.get $dx) (i32.const 0) ${mul(mul(mul(get('$B'), get('$H')), get('$W')), get('$cb'))})
    ${forRange('$b', get('$B'), forRange('$oy', get('$OH'), `
      (local.set $y0 (i32.sub (i32.mul (local.get $oy) (local.get $sy)) (local.get $top)))
      (local.set $yS (select (i32.const 0) (local.get $y0) (i32.lt_s (local.get $y0) (i32.const 0))))
      (local.set $yE (i32.add (local.get $y0) (local.get $fh)))
      (local.set $yE (select (local.get $H) (local.get $yE) (i32.gt_s (local.get $yE) (local.get $H))))
      ${forRange('$ox', get('$OW'), `
        (local.set $x0 (i32.sub (i32.mul (local.get $ox) (local.get $sx)) (local.get $left)))
        (local.set $xS (select (i32.const 0) (local.get $x0) (i32.lt_s (local.get $x0) (i32.const 0))))
        (local.set $xE (i32.add (local.get $x0) (local.get $fw)))
        (local.set $xE (select (local.get $W) (local.get $xE) (i32.gt_s (local.get $xE) (local.get $W))))
        (local.set $dyp (i32.add (local.get $dy) ${mul(add(mul(add(mul(get('$b'), get('$OH')), get('$oy')), get('$OW')), get('$ox')), get('$cb'))}))
        (local.set $c (i32.const 0))
        (block $cv_done (loop $cv_next
          (br_if $cv_done (i32.ge_u (local.get $c) (local.get $c4)))
          (local.set $best (f32x4.splat (f32.const -inf)))
          (local.set $at (i32x4.splat (i32.const -1)))
          (local.set $y (local.get $yS))
          (block $wy_done (loop $wy_next
            (br_if $wy_done (i32.ge_s (local.get $y) (local.get $yE)))
            (local.set $xx (local.get $xS))
            (block $wx_done (loop $wx_next
              (br_if $wx_done (i32.ge_s (local.get $xx) (local.get $xE)))
              (local.set $a (i32.add ${mul(add(mul(add(mul(get('$b'), get('$H')), get('$y')), get('$W')), get('$xx')), get('$cb'))} (local.get $c)))
              (local.set $v (v128.load align=4 (i32.add (local.get $x) (local.get $a))))
              (local.set $m (f32x4.gt (local.get $v) (local.get $best)))
              (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
              (local.set $at (v128.bitselect (i32x4.add (i32x4.splat (local.get $a)) (v128.const i32x4 0 4 8 12)) (local.get $at) (local.get $m)))
              (local.set $xx (i32.add (local.get $xx) (i32.const 1)))
              (br $wx_next)))
            (local.set $y (i32.add (local.get $y) (i32.const 1)))
            (br $wy_next)))${maxPoolLanes}
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $cv_next)))
        (block $cs_done (loop $cs_next
          (br_if $cs_done (i32.ge_u (local.get $c) (local.get $cb)))
          (local.set $bs (f32.const -inf))
          (local.set $as (i32.const -1))
          (local.set $y (local.get $yS))
          (block $sy_done (loop $sy_next
            (br_if $sy_done (i32.ge_s (local.get $y) (local.get $yE)))
            (local.set $xx (local.get $xS))
            (block $sx_done (loop $sx_next
              (br_if $sx_done (i32.ge_s (local.get $xx) (local.get $xE)))
              (local.set $a (i32.add ${mul(add(mul(add(mul(get('$b'), get('$H')), get('$y')), get('$W')), get('$xx')), get('$cb'))} (local.get $c)))
              (local.set $vs (f32.load (i32.add (local.get $x) (local.get $a))))
              (if (f32.gt (local.get $vs) (local.get $bs)) (then (local.set $bs (local.get $vs)) (local.set $as (local.get $a))))
              (local.set $xx (i32.add (local.get $xx) (i32.const 1)))
              (br $sx_next)))
            (local.set $y (i32.add (local.get $y) (i32.const 1)))
            (br $sy_next)))
          (if (i32.ge_s (local.get $as) (i32.const 0)) (then
            (local.set $k (i32.add (local.get $dx) (local.get $as)))
            (f32.store (local.get $k) (f32.add (f32.load (local.get $k)) (f32.load (i32.add (local.get $dyp) (local.get $c)))))))
          (local.set $c (i32.add (local.get $c) (i32.const 4)))
          (br $cs_next)))`)}`))})

  ;; Depthwise convolution's filter gradient (channel multiplier 1), NHWC:
  ;; out[i, j, c] = Σ_{b, oy, ox} x[b, oy·sy + i·dh − top, ox·sx + j·dw − left, c] · dy[b, oy, ox, c].
  ;; For each input row and tap, the output row's pixels inside x are swept with four channels in one register, and
  ;; the row's sum is added to out: fixed order, bit-for-bit repeatable.
  (func (export "dw_filter_grad")
    (param $x i32) (param $dy i32) (param $out i32) (param $B i32) (param $H i32) (param $W i32) (param $C i32)
    (param $OH i32) (param $OW i32) (param $fh i32) (param $fw i32) (param $sy i32) (param $sx i32)
    (param $dh i32) (param $dw i32) (param $top i32) (param $left i32)
    (local $cb i32) (local $c4 i32) (local $b i32) (local $oy i32) (local $i i32) (local $j i32) (local $iy i32)
    (local $oxS i32) (local $oxE i32) (local $ox i32) (local $c i32) (local $xp i32) (local $dyp i32) (local $xstep i32)
    (local $o i32) (local $acc v128) (local $accs f32)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $c4 (i32.shl (i32.and (local.get $C) (i32.const -4)) (i32.const 2)))
    (local.set $xstep (i32.mul (local.get $sx) (local.get $cb)))
    (memory.fill (local.get $out) (i32.const 0) ${mul(mul(get('$fh'), get('$fw')), get('$cb'))})
    ${forRange('$b', get('$B'), forRange('$oy', get('$OH'), forRange('$i', get('$fh'), `
      (local.set $iy (i32.sub ${add(mul(get('$oy'), get('$sy')), mul(get('$i'), get('$dh')))} (local.get $top)))
      (if (i32.lt_u (local.get $iy) (local.get $H)) (then
        ${forRange('$j', get('$fw'), `
          ;; The output columns whose input column ox·sx + j·dw − left lies in [0, W).
          (local.set $oxS (i32.const 0))
          (block $s_done (loop $s_next
            (br_if $s_done (i32.ge_s (i32.sub ${add(mul(get('$oxS'), get('$sx')), mul(get('$j'), get('$dw')))} (local.get $left)) (i32.const 0)))
            (local.set $oxS (i32.add (local.get $oxS) (i32.const 1)))
            (br $s_next)))
          (local.set $oxE (local.get $OW))
          (block $e_done (loop $e_next
            (br_if $e_done (i32.le_s (local.get $oxE) (local.get $oxS)))
            (br_if $e_done (i32.lt_s (i32.sub ${add(mul(`(i32.sub (local.get $oxE) (i32.const 1))`, get('$sx')), mul(get('$j'), get('$dw')))} (local.get $left)) (local.get $W)))
            (local.set $oxE (i32.sub (local.get $oxE) (i32.const 1)))
            (br $e_next)))
          (local.set $o (i32.add (local.get $out) ${mul(add(mul(get('$i'), get('$fw')), get('$j')), get('$cb'))}))
          (local.set $c (i32.const 0))
          (block $cv_done (loop $cv_next
            (br_if $cv_done (i32.ge_u (local.get $c) (local.get $c4)))
            (local.set $acc (v128.const f32x4 0 0 0 0))
            (local.set $xp (i32.add (local.get $x) (i32.add ${mul(add(mul(add(mul(get('$b'), get('$H')), get('$iy')), get('$W')), `(i32.sub ${add(mul(get('$oxS'), get('$sx')), mul(get('$j'), get('$dw')))} (local.get $left))`), get('$cb'))} (local.get $c))))
            (local.set $dyp (i32.add (local.get $dy) (i32.add ${mul(add(mul(add(mul(get('$b'), get('$OH')), get('$oy')), get('$OW')), get('$oxS')), get('$cb'))} (local.get $c))))
            (local.set $ox (local.get $oxS))
            (block $x_done (loop $x_next
              (br_if $x_done (i32.ge_s (local.get $ox) (local.get $oxE)))
              (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (v128.load align=4 (local.get $xp)) (v128.load align=4 (local.get $dyp)))))
              (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
              (local.set $dyp (i32.add (local.get $dyp) (local.get $cb)))
              (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
              (br $x_next)))
            (v128.store align=4 (i32.add (local.get $o) (local.get $c)) (f32x4.add (v128.load align=4 (i32.add (local.get $o) (local.get $c))) (local.get $acc)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cv_next)))
          (block $cs_done (loop $cs_next
            (br_if $cs_done (i32.ge_u (local.get $c) (local.get $cb)))
            (local.set $accs (f32.const 0))
            (local.set $xp (i32.add (local.get $x) (i32.add ${mul(add(mul(add(mul(get('$b'), get('$H')), get('$iy')), get('$W')), `(i32.sub ${add(mul(get('$oxS'), get('$sx')), mul(get('$j'), get('$dw')))} (local.get $left))`), get('$cb'))} (local.get $c))))
            (local.set $dyp (i32.add (local.get $dy) (i32.add ${mul(add(mul(add(mul(get('$b'), get('$OH')), get('$oy')), get('$OW')), get('$oxS')), get('$cb'))} (local.get $c))))
            (local.set $ox (local.get $oxS))
            (block $xs_done (loop $xs_next
              (br_if $xs_done (i32.ge_s (local.get $ox) (local.get $oxE)))
              (local.set $accs (f32.add (local.get $accs) (f32.mul (f32.load (local.get $xp)) (f32.load (local.get $dyp)))))
              (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
              (local.set $dyp (i32.add (local.get $dyp) (local.get $cb)))
              (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
              (br $xs_next)))
            (f32.store (i32.add (local.get $o) (local.get $c)) (f32.add (f32.load (i32.add (local.get $o) (local.get $c))) (local.get $accs)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $cs_next)))`)}))`)))})

  ;; Batch norm in inference: out[r, c] = k[c] · (x[r, c] − m[c]) + k0[c], with k = γ / sqrt(σ² + ε), k0 = β.
  (func (export "bn_infer")
    (param $px i32) (param $rows i32) (param $C i32) (param $k i32) (param $m i32) (param $k0 i32) (param $out i32)
    ${ROW_LOCALS}
    ${overRowsAndChannels(`
            (v128.store align=4 ${at('$out')}
              (f32x4.add
                (f32x4.mul (v128.load align=4 ${channel('$k')}) (f32x4.sub (v128.load align=4 ${at('$px')}) (v128.load align=4 ${channel('$m')})))
                (v128.load align=4 ${channel('$k0')})))`, `
            (f32.store ${at('$out')}
              (f32.add
                (f32.mul (f32.load ${channel('$k')}) (f32.sub (f32.load ${at('$px')}) (f32.load ${channel('$m')})))
                (f32.load ${channel('$k0')})))`)})

  ;; dst[b, c, r] = src[b, r, c] for B matrices [R, C] (the last two axes swapped), in 16 x 16 tiles so that both
  ;; the reads and the strided writes stay in cache (a row-by-row copy of a 25,088 x 4,096 matrix misses on every
  ;; write). Any R, C: the edge tiles are cut short.
  (func (export "transpose") (param $src i32) (param $dst i32) (param $B i32) (param $R i32) (param $C i32)
    (local $b i32) (local $r0 i32) (local $c0 i32) (local $r i32) (local $c i32) (local $r1 i32) (local $c1 i32)
    (local $plane i32) (local $sp i32) (local $dp i32) (local $rs i32)
    (local.set $plane (i32.shl (i32.mul (local.get $R) (local.get $C)) (i32.const 2)))
    (local.set $rs (i32.shl (local.get $R) (i32.const 2)))
    ${forRange('$b', '(local.get $B)', `${overTiles('$r0', '$r1', '$R', overTiles('$c0', '$c1', '$C', forFromTo('$r', '(local.get $r0)', '(local.get $r1)', `
            (local.set $sp (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $C)) (local.get $c0)) (i32.const 2))))
            (local.set $dp (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c0) (local.get $R)) (local.get $r)) (i32.const 2))))${forFromTo('$c', '(local.get $c0)', '(local.get $c1)', `
              (f32.store (local.get $dp) (f32.load (local.get $sp)))
              (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
              (local.set $dp (i32.add (local.get $dp) (local.get $rs)))`)}`)))}
      (local.set $src (i32.add (local.get $src) (local.get $plane)))
      (local.set $dst (i32.add (local.get $dst) (local.get $plane)))`)}
  )

  ;; C [M, N] = A [M, K] · B [N, K]ᵀ: every output a dot product of a row of A and a row of B, so B is read in place
  ;; (no transpose) and, with A's rows taken four at a time, once per four rows — the input gradient through a dense
  ;; layer, dy · Wᵀ, reads VGG16's 411 MB fc1 weights once instead of transposing them. Each sum runs over k in
  ;; lanes of 4 (lane sums added (0 + 1) + (2 + 3)), then the k % 4 tail. This thread takes the columns n in
  ;; [tid · ⌈N / threads⌉, …): each output is one thread's, computed the same way for any thread count.
  (func (export "gemm_nt") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
    (param $tid i32) (param $threads i32)
    (local $m i32) (local $n i32) (local $k i32) (local $n0 i32) (local $n1 i32) (local $per i32)
    (local $ap i32) (local $bp i32) (local $cp i32) (local $ks i32) (local $ns i32) (local $bv v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $t0 f32) (local $t1 f32) (local $t2 f32) (local $t3 f32)
    (local.set $ks (i32.shl (local.get $K) (i32.const 2)))
    (local.set $ns (i32.shl (local.get $N) (i32.const 2)))
    (local.set $per (i32.div_u (i32.add (local.get $N) (i32.sub (local.get $threads) (i32.const 1))) (local.get $threads)))
    (local.set $n0 (i32.mul (local.get $tid) (local.get $per)))
    (local.set $n1 (i32.add (local.get $n0) (local.get $per)))
    (if (i32.gt_u (local.get $n1) (local.get $N)) (then (local.set $n1 (local.get $N))))
    (local.set $m (i32.const 0))
    ${gemmNtRows(4)}
    ${gemmNtRows(1)}
  )
  ;; ROAD's imputation (src/viz/metrics/road.ts, linearImpute): successive over-relaxation sweeps over the holes of a
  ;; float64 image, the arithmetic of the JavaScript loop in the same order, so the same bits. Hole h's channel 0 is
  ;; at byte offset holes[h] of $out; its neighbours k in [start[h], start[h + 1]) at byte offsets nbo[k], weights
  ;; nbw[k], weight sum wsum[h]. C = 3: channels 0–1 in one float64x2, channel 2 alone; C = 1: scalar. Each sweep:
  ;; v ← v + ω (Σ w·neighbour / Σ w − v) per channel; it stops after a sweep whose largest change is ≤ $threshold,
  ;; or after $iterations sweeps. Returns the sweeps run.
  (func (export "road_sor") (param $out i32) (param $holes i32) (param $start i32) (param $nbo i32) (param $nbw i32)
    (param $wsum i32) (param $n i32) (param $C i32) (param $iterations i32) (param $omega f64) (param $threshold f64)
    (result i32)
    (local $it i32) (local $h i32) (local $k i32) (local $to i32) (local $base i32) (local $o i32)
    (local $moved f64) (local $w f64) (local $ws f64) (local $acc2 f64) (local $cur2 f64) (local $next2 f64) (local $d f64)
    (local $acc01 v128) (local $cur01 v128) (local $next01 v128) (local $d01 v128) (local $omega2 v128)
    (local.set $omega2 (f64x2.splat (local.get $omega)))
    (local.set $it (i32.const 0))
    (block $it_done (loop $it_next
      (br_if $it_done (i32.ge_u (local.get $it) (local.get $iterations)))
      (local.set $moved (f64.const 0))
      ${forRange('$h', '(local.get $n)', `
        (local.set $base (i32.add (local.get $out) (i32.load (i32.add (local.get $holes) (i32.shl (local.get $h) (i32.const 2))))))
        (local.set $k (i32.load (i32.add (local.get $start) (i32.shl (local.get $h) (i32.const 2)))))
        (local.set $to (i32.load (i32.add (local.get $start) (i32.shl (i32.add (local.get $h) (i32.const 1)) (i32.const 2)))))
        (local.set $ws (f64.load (i32.add (local.get $wsum) (i32.shl (local.get $h) (i32.const 3)))))
        (if (i32.eq (local.get $C) (i32.const 3))
          (then
            (local.set $acc01 (f64x2.splat (f64.const 0)))
            (local.set $acc2 (f64.const 0))
            (block $k_done (loop $k_next
              (br_if $k_done (i32.ge_u (local.get $k) (local.get $to)))
              (local.set $w (f64.load (i32.add (local.get $nbw) (i32.shl (local.get $k) (i32.const 3)))))
              (local.set $o (i32.add (local.get $out) (i32.load (i32.add (local.get $nbo) (i32.shl (local.get $k) (i32.const 2))))))
              (local.set $acc01 (f64x2.add (local.get $acc01) (f64x2.mul (f64x2.splat (local.get $w)) (v128.load align=8 (local.get $o)))))
              (local.set $acc2 (f64.add (local.get $acc2) (f64.mul (local.get $w) (f64.load offset=16 (local.get $o)))))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br $k_next)))
            (local.set $cur01 (v128.load align=8 (local.get $base)))
            (local.set $next01 (f64x2.add (local.get $cur01)
              (f64x2.mul (local.get $omega2) (f64x2.sub (f64x2.div (local.get $acc01) (f64x2.splat (local.get $ws))) (local.get $cur01)))))
            (local.set $d01 (f64x2.abs (f64x2.sub (local.get $next01) (local.get $cur01))))
            (v128.store align=8 (local.get $base) (local.get $next01))
            (local.set $d (f64x2.extract_lane 0 (local.get $d01)))
            (local.set $moved (select (local.get $d) (local.get $moved) (f64.gt (local.get $d) (local.get $moved))))
            (local.set $d (f64x2.extract_lane 1 (local.get $d01)))
            (local.set $moved (select (local.get $d) (local.get $moved) (f64.gt (local.get $d) (local.get $moved))))
            (local.set $cur2 (f64.load offset=16 (local.get $base)))
            (local.set $next2 (f64.add (local.get $cur2)
              (f64.mul (local.get $omega) (f64.sub (f64.div (local.get $acc2) (local.get $ws)) (local.get $cur2)))))
            (local.set $d (f64.abs (f64.sub (local.get $next2) (local.get $cur2))))
            (f64.store offset=16 (local.get $base) (local.get $next2))
            (local.set $moved (select (local.get $d) (local.get $moved) (f64.gt (local.get $d) (local.get $moved)))))
          (else
            (local.set $acc2 (f64.const 0))
            (block $k1_done (loop $k1_next
              (br_if $k1_done (i32.ge_u (local.get $k) (local.get $to)))
              (local.set $acc2 (f64.add (local.get $acc2)
                (f64.mul (f64.load (i32.add (local.get $nbw) (i32.shl (local.get $k) (i32.const 3))))
                  (f64.load (i32.add (local.get $out) (i32.load (i32.add (local.get $nbo) (i32.shl (local.get $k) (i32.const 2)))))))))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br $k1_next)))
            (local.set $cur2 (f64.load (local.get $base)))
            (local.set $next2 (f64.add (local.get $cur2)
              (f64.mul (local.get $omega) (f64.sub (f64.div (local.get $acc2) (local.get $ws)) (local.get $cur2)))))
            (local.set $d (f64.abs (f64.sub (local.get $next2) (local.get $cur2))))
            (f64.store (local.get $base) (local.get $next2))
            (local.set $moved (select (local.get $d) (local.get $moved) (f64.gt (local.get $d) (local.get $moved))))))`)}
      (local.set $it (i32.add (local.get $it) (i32.const 1)))
      (br_if $it_done (f64.le (local.get $moved) (local.get $threshold)))
      (br $it_next)))
    (local.get $it)
  )
${winogradWat(sharedMemory)}
${filterGradWat()}
)
`;
