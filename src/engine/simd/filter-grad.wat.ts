/**
 * A direct filter gradient for convolutions with few input channels (an image's first layer: LeNet-5's 5x5 over one
 * grey channel, a 3x3 over RGB), as WebAssembly text spliced into kernels.wat.ts's module:
 *
 *   dW[t, co] = Σ_{b, y, x} xpad[b, y·sy + i·dh, x·sx + j·dw, ci] · dy[b, y, x, co],   tap t = (i·fw + j)·Ci + ci
 *
 * The im2col route (kernels/conv2d-backprop-filter.ts) first writes every tap of every output pixel transposed —
 * one scalar per store when Ci is 1 or 3, nothing to vectorise — and then XNNPACK packs dy on every call. Here each
 * work item (a block of `tb` taps x 8 output channels) keeps its 2·tb sums in registers over one pass of dy: per
 * output pixel two loads of dy, and per tap one load of x, a splat and two multiply-adds.
 *
 * Layouts (float32, byte-offset pointers): xpad [B, Hp, Wp, Ci] (padded by the caller: every tap lies inside);
 * dy [B, OH, OW, Co8] with Co8 a multiple of 8 (padded by the caller); taps [T] int32, each tap's byte offset from
 * a window's first element; out dW [T, Co8]. Each dW element is one thread's (work items tid, tid + threads, …)
 * and sums its terms in (b, y, x) order from zero: the same bits for any thread count.
 */

const range = (n: number) => [...Array(n).keys()];

/** Taps per register block: 2·tb sums, two dy vectors and one splat stay within x64's 16 vector registers. */
export const FILTER_GRAD_TAPS = [1, 2, 3, 4, 5, 6] as const;

/** The kernel `filter_grad_direct<tb>`: work items of `tb` taps (the last block's missing taps repeat tap T − 1, unstored). */
function directFilterGrad(tb: number): string {
  const sums = range(tb).map((t) => `(local $a${t}0 v128) (local $a${t}1 v128)`).join(' ');
  const offsets = range(tb).map((t) => `(local $o${t} i32)`).join(' ');
  const loadOffsets = range(tb).map((t) => `
        (local.set $o${t} (i32.load (i32.add (local.get $taps) (i32.shl
          (select (i32.add (local.get $t0) (i32.const ${t})) (i32.sub (local.get $T) (i32.const 1))
            (i32.lt_u (i32.add (local.get $t0) (i32.const ${t})) (local.get $T))) (i32.const 2)))))
        (local.set $a${t}0 (v128.const i32x4 0 0 0 0))
        (local.set $a${t}1 (v128.const i32x4 0 0 0 0))`).join('');
  const perTap = range(tb).map((t) => `
              (local.set $s (f32x4.splat (f32.load (i32.add (local.get $px) (local.get $o${t})))))
              (local.set $a${t}0 (f32x4.add (local.get $a${t}0) (f32x4.mul (local.get $s) (local.get $d0))))
              (local.set $a${t}1 (f32x4.add (local.get $a${t}1) (f32x4.mul (local.get $s) (local.get $d1))))`).join('');
  const store = range(tb).map((t) => `
        (if (i32.lt_u (i32.add (local.get $t0) (i32.const ${t})) (local.get $T)) (then
          (local.set $op (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $t0) (i32.const ${t})) (local.get $Co8)) (local.get $c0)) (i32.const 2))))
          (v128.store align=4 (local.get $op) (local.get $a${t}0))
          (v128.store offset=16 align=4 (local.get $op) (local.get $a${t}1))))`).join('');
  return `
  (func (export "filter_grad_direct${tb}") (param $x i32) (param $dy i32) (param $out i32) (param $taps i32) (param $T i32)
    (param $B i32) (param $Hp i32) (param $Wp i32) (param $Ci i32) (param $OH i32) (param $OW i32) (param $Co8 i32)
    (param $sy i32) (param $sx i32) (param $tid i32) (param $threads i32)
    (local $item i32) (local $items i32) (local $chunks i32) (local $t0 i32) (local $c0 i32) (local $op i32)
    (local $b i32) (local $y i32) (local $xx i32) (local $row i32) (local $px i32) (local $dp i32)
    (local $pixelStep i32) (local $rowStep i32) (local $dyStep i32)
    (local $d0 v128) (local $d1 v128) (local $s v128) ${sums} ${offsets}
    (local.set $chunks (i32.shr_u (local.get $Co8) (i32.const 3)))
    (local.set $items (i32.mul (i32.div_u (i32.add (local.get $T) (i32.const ${tb - 1})) (i32.const ${tb})) (local.get $chunks)))
    (local.set $pixelStep (i32.shl (i32.mul (local.get $sx) (local.get $Ci)) (i32.const 2)))
    (local.set $rowStep (i32.shl (i32.mul (i32.mul (local.get $sy) (local.get $Wp)) (local.get $Ci)) (i32.const 2)))
    (local.set $dyStep (i32.shl (local.get $Co8) (i32.const 2)))
    (local.set $item (local.get $tid))
    (block $items_done (loop $items_next
      (br_if $items_done (i32.ge_u (local.get $item) (local.get $items)))
      (local.set $t0 (i32.mul (i32.div_u (local.get $item) (local.get $chunks)) (i32.const ${tb})))
      (local.set $c0 (i32.shl (i32.rem_u (local.get $item) (local.get $chunks)) (i32.const 3)))${loadOffsets}
      (local.set $dp (i32.add (local.get $dy) (i32.shl (local.get $c0) (i32.const 2))))
      (local.set $b (i32.const 0))
      (block $b_done (loop $b_next
        (br_if $b_done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.mul (local.get $b) (local.get $Hp)) (i32.mul (local.get $Wp) (local.get $Ci))) (i32.const 2))))
        (local.set $y (i32.const 0))
        (block $y_done (loop $y_next
          (br_if $y_done (i32.ge_u (local.get $y) (local.get $OH)))
          (local.set $px (local.get $row))
          (local.set $xx (local.get $OW))
          (loop $x_next
            (local.set $d0 (v128.load align=4 (local.get $dp)))
            (local.set $d1 (v128.load offset=16 align=4 (local.get $dp)))${perTap}
            (local.set $px (i32.add (local.get $px) (local.get $pixelStep)))
            (local.set $dp (i32.add (local.get $dp) (local.get $dyStep)))
            (br_if $x_next (local.tee $xx (i32.sub (local.get $xx) (i32.const 1)))))
          (local.set $row (i32.add (local.get $row) (local.get $rowStep)))
          (local.set $y (i32.add (local.get $y) (i32.const 1)))
          (br $y_next)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $b_next)))${store}
      (local.set $item (i32.add (local.get $item) (local.get $threads)))
      (br $items_next)))
  )`;
}

/** Every block size's kernel. */
export const filterGradWat = () => FILTER_GRAD_TAPS.map(directFilterGrad).join('\n');
