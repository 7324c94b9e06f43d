/**
 * Winograd's minimal filtering F(2x2, 3x3) for stride-1 3x3 convolutions (Lavin & Gray 2016, "Fast Algorithms for
 * Convolutional Neural Networks"), as WebAssembly text spliced into kernels.wat.ts's module. Each 2x2 block of
 * output pixels ("tile") is computed from a 4x4 block of input pixels:
 *
 *   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   summed over input channels,
 *
 *   Bᵀ = | 1  0 -1  0 |    G = | 1    0    0  |    Aᵀ = | 1  1  1  0 |
 *        | 0  1  1  0 |        | 1/2  1/2  1/2 |         | 0  1 -1 -1 |
 *        | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
 *        | 0  1  0 -1 |        | 0    0    1  |
 *
 * so the sum over channels becomes 16 matrix products, one per point of the 4x4 transformed tile:
 * M[p] (tiles x Co) = V[p] (tiles x Ci) · U[p] (Ci x Co) — 16 multiplies per 4 outputs instead of 36, i.e. 2.25x
 * fewer. The transforms are additions (and halvings for the filter), four channels per SIMD step; the products
 * run in `gemm`, a 4-row x 8-column register-blocked kernel over rows in blocks that stay in cache.
 *
 * F(4x4, 3x3) (below: 6x6 input blocks, 36 points, 2.25 multiplies per output) runs the same way for layers with
 * enough tiles (kernels/winograd-conv2d.ts chooses); `winoInput`, `winoOutput` and `winoFilter` write both sizes'
 * functions, and the `_pool` drivers' output transforms max-pool each tile's 2x2 windows as they store them.
 *
 * Layouts (float32, byte-offset pointers): x [B, H, W, C] (NHWC); g [3, 3, Ci, Co] (tfjs's filter layout);
 * U [16, Ci, Co]; out [B, OH, OW, Co]. Tiles are numbered in (b, ty, tx) order, T = B·tH·tW of them; the transforms
 * take a range of tiles [ta, tb), so V [16, tb − ta, C] and M [16, tb − ta, Co] hold one chunk of tiles at a time.
 * C and Co are multiples of 4 (the caller checks; `gemm` needs Co a multiple of 8).
 */
import { forRange } from './wat.ts';

const v = (name: string) => `(local.get ${name})`;
const range = (n: number) => [...Array(n).keys()];

/** Locals $<prefix>0 … $<prefix>{n-1} of type `type`. */
const locals = (prefix: string, n: number, type: string) => range(n).map((k) => `(local $${prefix}${k} ${type})`).join(' ');

/** Winograd's F(2x2, 3x3) matrices (Lavin & Gray): Bᵀ for the input, G for the filter, Aᵀ for the output. */
const BT = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]];
const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
const AT = [[1, 1, 1, 0], [0, 1, -1, -1]];
const transpose = (m: number[][]) => m[0].map((_, j) => m.map((row) => row[j]));

/**
 * Σ c·x over terms whose coefficients are ±1 or ±½, as f32x4 additions: the ±1 terms added and subtracted in
 * order (positive ones first), the ±½ terms summed the same way and multiplied by $half once.
 */
function linear(terms: [number, string][]): string {
  const signed = (ts: [number, string][]) => {
    const pos = ts.filter(([c]) => c > 0).map(([, x]) => x);
    const neg = ts.filter(([c]) => c < 0).map(([, x]) => x);
    let e = pos.length ? pos[0] : `(f32x4.neg ${neg.shift()})`;
    for (const x of pos.slice(1)) e = `(f32x4.add ${e} ${x})`;
    for (const x of neg) e = `(f32x4.sub ${e} ${x})`;
    return e;
  };
  const ones = terms.filter(([c]) => Math.abs(c) === 1);
  const halves = terms.filter(([c]) => Math.abs(c) === 0.5);
  if (ones.length + halves.length !== terms.length || terms.length === 0) throw new Error('winograd: coefficients must be ±1 or ±½');
  const half = halves.length ? `(f32x4.mul (local.get $half) ${signed(halves)})` : '';
  return ones.length === 0 ? half : halves.length === 0 ? signed(ones) : `(f32x4.add ${signed(ones)} ${half})`;
}

/**
 * Y = L X R on v128 locals: X in $<x>0… (rows × cols, row-major), the product L X in $<tmp>0…, Y in $<y>0…
 * (row-major). Every transform of the algorithm is one of these with the matrices above.
 */
function sandwich(L: number[][], x: string, cols: number, R: number[][], tmp: string, y: string, lin = linear): string {
  const out: string[] = [];
  const n = R[0].length;
  const get = (name: string) => `(local.get $${name})`;
  L.forEach((row, i) => {
    for (let j = 0; j < cols; j++) {
      const terms = row.map((c, k) => [c, get(`${x}${k * cols + j}`)] as [number, string]).filter(([c]) => c !== 0);
      out.push(`(local.set $${tmp}${i * cols + j} ${lin(terms)})`);
    }
  });
  L.forEach((_, i) => {
    for (let j = 0; j < n; j++) {
      const terms = R.map((r, l) => [r[j], get(`${tmp}${i * cols + l}`)] as [number, string]).filter(([c]) => c !== 0);
      out.push(`(local.set $${y}${i * n + j} ${lin(terms)})`);
    }
  });
  return out.join('\n          ');
}

/** Bᵀ d B: $d0…$d15 → $s0…$s15 via $t0…$t15. */
const inputTransform = () => sandwich(BT, 'd', 4, transpose(BT), 't', 's');
/** G g Gᵀ: $g0…$g8 → $s0…$s15 via $h0…$h11 ($half = 0.5). */
const filterTransform = () => sandwich(G, 'g', 3, transpose(G), 'h', 's');
/** Aᵀ m A: $d0…$d15 → $y0…$y3 via $t0…$t7. */
const outputTransform = () => sandwich(AT, 'd', 4, transpose(AT), 't', 'y');
/** The output gradient's A dy Aᵀ: $y0…$y3 → $s0…$s15 via $t0…$t7. */
const outputGradTransform = () => sandwich(transpose(AT), 'y', 2, AT, 't', 's');
/** The filter gradient's Gᵀ dU G: $d0…$d15 → $g0…$g8 via $h0…$h11 ($half = 0.5). */
const filterGradTransform = () => sandwich(transpose(G), 'd', 4, G, 'h', 'g');

/**
 * Winograd's F(4x4, 3x3) (Lavin & Gray, points 0, ±1, ±2, ∞): each 4x4 block of outputs from a 6x6 input block,
 * 36 products per 16 outputs — 2.25 multiplies per output instead of F(2x2, 3x3)'s 4 — for layers wide enough that
 * the products outweigh the larger transforms. Rounding grows with the points' magnitudes (~1e-6 → a few 1e-6
 * relative on random data; tested against the cpu backend).
 */
const BT4 = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]];
const G4 = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]];
const AT4 = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]];

/**
 * Σ c·x for any coefficients, as f32x4 operations: the terms grouped by |c| (in order of first appearance), each
 * group's ±x added and subtracted and multiplied by |c| once (not for 1), the groups then added or subtracted by
 * their sign — e.g. 4·d1 − 4·d2 − d3 + d4 is (d4 − d3) + 4·(d1 − d2), four operations.
 */
function linearAny(terms: [number, string][]): string {
  if (terms.length === 0) throw new Error('winograd: an empty combination');
  const mags = [...new Set(terms.map(([c]) => Math.abs(c)))];
  const parts = mags.map((m) => {
    const group = terms.filter(([c]) => Math.abs(c) === m);
    // A group whose terms are all negative is summed positively and subtracted as a whole.
    const negative = group.every(([c]) => c < 0);
    const pos = group.filter(([c]) => (c > 0) !== negative).map(([, x]) => x);
    const neg = group.filter(([c]) => (c > 0) === negative).map(([, x]) => x);
    let e = pos.length ? pos[0] : `(f32x4.neg ${neg.shift()})`;
    for (const x of pos.slice(1)) e = `(f32x4.add ${e} ${x})`;
    for (const x of neg) e = `(f32x4.sub ${e} ${x})`;
    if (m !== 1) e = `(f32x4.mul (v128.const f32x4 ${m} ${m} ${m} ${m}) ${e})`;
    return { e, negative };
  }).sort((a, b) => Number(a.negative) - Number(b.negative));
  let e = parts[0].negative ? `(f32x4.neg ${parts[0].e})` : parts[0].e;
  for (const p of parts.slice(1)) e = `(${p.negative ? 'f32x4.sub' : 'f32x4.add'} ${e} ${p.e})`;
  return e;
}

/** F(4x4, 3x3)'s Bᵀ d B: $d0…$d35 → $s0…$s35 via $t0…$t35. */
const inputTransform4 = () => sandwich(BT4, 'd', 6, transpose(BT4), 't', 's', linearAny);
/** F(4x4, 3x3)'s G g Gᵀ: $g0…$g8 → $s0…$s35 via $h0…$h17. */
const filterTransform4 = () => sandwich(G4, 'g', 3, transpose(G4), 'h', 's', linearAny);
/** F(4x4, 3x3)'s Aᵀ m A: $d0…$d35 → $y0…$y15 via $t0…$t23. */
const outputTransform4 = () => sandwich(AT4, 'd', 6, transpose(AT4), 't', 'y', linearAny);

/** The max of f32x4 expressions from −∞ by pmax(best, v) = best < v ? v : best: tfjs's cpu max pooling, NaN never wins. */
const poolMax = (ys: string[]) => ys.reduce((best, y) => `(f32x4.pmax ${best} ${y})`, '(v128.const f32x4 -inf -inf -inf -inf)');

/** Bias and activation on $y<k>: act 0 none, 1 ReLU, 2 ReLU6 (pmax/pmin keep NaN, like x < 0 ? 0 : x). */
const epilogue = (k: number) => `
          (local.set $y${k} (f32x4.add (local.get $y${k}) (local.get $bv)))
          (if (local.get $act) (then
            (local.set $y${k} (f32x4.pmax (local.get $y${k}) (v128.const f32x4 0 0 0 0)))
            (if (i32.eq (local.get $act) (i32.const 2)) (then
              (local.set $y${k} (f32x4.pmin (local.get $y${k}) (v128.const f32x4 6 6 6 6)))))))`;

/** The 4-row x 8-column product kernel's body for one k: rows r of A (row stride $ks bytes) times B's 8 columns. */
function gemmStep(rows: number): string {
  const out: string[] = [
    `(local.set $b0 (v128.load align=4 (local.get $bp)))`,
    `(local.set $b1 (v128.load offset=16 align=4 (local.get $bp)))`,
  ];
  for (const r of range(rows)) {
    const addr = r === 0 ? v('$ap') : `(i32.add (local.get $ap) (local.get $ks${r}))`;
    out.push(`(local.set $av (v128.load32_splat ${addr}))`);
    out.push(`(local.set $c${r}0 (f32x4.add (local.get $c${r}0) (f32x4.mul (local.get $av) (local.get $b0))))`);
    out.push(`(local.set $c${r}1 (f32x4.add (local.get $c${r}1) (f32x4.mul (local.get $av) (local.get $b1))))`);
  }
  return out.join('\n              ');
}

/** A block of `rows` rows (4 or 1) x 8 columns of C = A · B, rows from $i, columns from $j. */
function gemmBlock(rows: number): string {
  const zero = range(rows).map((r) => `(local.set $c${r}0 (v128.const i32x4 0 0 0 0)) (local.set $c${r}1 (v128.const i32x4 0 0 0 0))`);
  const store = range(rows).map((r) => {
    const addr = r === 0 ? v('$cp') : `(i32.add (local.get $cp) (i32.mul (i32.const ${r}) (local.get $ns)))`;
    return `(v128.store align=4 ${addr} (local.get $c${r}0)) (v128.store offset=16 align=4 ${addr} (local.get $c${r}1))`;
  });
  return `
            ${zero.join(' ')}
            (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ks))))
            (local.set $bp (i32.add (local.get $bb) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (local.get $K))
            (loop $k_next
              ${gemmStep(rows)}
              (local.set $ap (i32.add (local.get $ap) (i32.const 4)))
              (local.set $bp (i32.add (local.get $bp) (local.get $ns)))
              (br_if $k_next (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
            (local.set $cp (i32.add (local.get $cc) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $N)) (local.get $j)) (i32.const 2))))
            ${store.join('\n            ')}`;
}


/** gemm_tn's 4 x 8 block: C[i..i+3, j..j+7] += Σ_k A[k, i..i+3]ᵀ B[k, j..j+7], accumulators loaded from C. */
function gemmTnBlock(): string {
  const lanes = range(4).map((r) => `
              (local.set $av (i8x16.shuffle ${range(4).map(() => range(4).map((b) => 4 * r + b).join(' ')).join(' ')} (local.get $a4) (local.get $a4)))
              (local.set $c${r}0 (f32x4.add (local.get $c${r}0) (f32x4.mul (local.get $av) (local.get $b0))))
              (local.set $c${r}1 (f32x4.add (local.get $c${r}1) (f32x4.mul (local.get $av) (local.get $b1))))`).join('');
  const row = (r: number) => (r === 0 ? v('$cp') : `(i32.add (local.get $cp) (i32.mul (i32.const ${r}) (local.get $ns)))`);
  const load = range(4).map((r) => `(local.set $c${r}0 (v128.load align=4 ${row(r)})) (local.set $c${r}1 (v128.load offset=16 align=4 ${row(r)}))`);
  const store = range(4).map((r) => `(v128.store align=4 ${row(r)} (local.get $c${r}0)) (v128.store offset=16 align=4 ${row(r)} (local.get $c${r}1))`);
  return `
            (local.set $cp (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $N)) (local.get $j)) (i32.const 2))))
            ${load.join('\n            ')}
            (local.set $ap (i32.add (i32.add (local.get $a) (i32.mul (local.get $kb) (local.get $ms))) (i32.shl (local.get $i) (i32.const 2))))
            (local.set $bp (i32.add (i32.add (local.get $b) (i32.mul (local.get $kb) (local.get $ns))) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (local.get $kn))
            (loop $k_next
              (local.set $a4 (v128.load align=4 (local.get $ap)))
              (local.set $b0 (v128.load align=4 (local.get $bp)))
              (local.set $b1 (v128.load offset=16 align=4 (local.get $bp)))${lanes}
              (local.set $ap (i32.add (local.get $ap) (local.get $ms)))
              (local.set $bp (i32.add (local.get $bp) (local.get $ns)))
              (br_if $k_next (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
            ${store.join('\n            ')}`;
}

/**
 * The loop over tiles t in [ta, tb) (numbered in (b, ty, tx) order, tH x tW per image) with $plane = one point's
 * bytes of a [16, tb − ta, C] scratch: per tile $b and $r (its index within the image), then `perTile`, then `body`
 * for each group of four channels at byte offset $c of the C = `channels` ($cb bytes).
 */
const overTiles = (channels: string, perTile: string, body: string, afterTile = '') => `
    (local.set $cb (i32.shl (local.get ${channels}) (i32.const 2)))
    (local.set $tiles (i32.mul (local.get $tH) (local.get $tW)))
    (local.set $plane (i32.mul (i32.sub (local.get $tb) (local.get $ta)) (local.get $cb)))
    (local.set $t (local.get $ta))
    (block $tiles_done (loop $tiles_next
      (br_if $tiles_done (i32.ge_u (local.get $t) (local.get $tb)))
      (local.set $b (i32.div_u (local.get $t) (local.get $tiles)))
      (local.set $r (i32.rem_u (local.get $t) (local.get $tiles)))${perTile}
      (local.set $c (i32.const 0))
      (block $c_done (loop $c_next
        (br_if $c_done (i32.ge_u (local.get $c) (local.get $cb)))${body}
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $c_next)))${afterTile}
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tiles_next)))`;

/**
 * overTiles for wino_output and wino_dy: per tile, $o is the address of its top-left pixel in the [B, OH, OW, Co]
 * tensor at `data`, $right / $below whether its second column / row exists, `scratchPtr` the tile's row in the
 * [16, tb − ta, Co] scratch at `scratchBase`.
 */
const overOutputTiles = (data: string, scratchPtr: string, scratchBase: string, body: string) => overTiles('$Co', `
      (local.set $oy (i32.shl (i32.div_u (local.get $r) (local.get $tW)) (i32.const 1)))
      (local.set $ox (i32.shl (i32.rem_u (local.get $r) (local.get $tW)) (i32.const 1)))
      (local.set $right (i32.lt_u (i32.add (local.get $ox) (i32.const 1)) (local.get $OW)))
      (local.set $below (i32.lt_u (i32.add (local.get $oy) (i32.const 1)) (local.get $OH)))
      (local.set $o (i32.add (local.get ${data}) (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $OH)) (local.get $oy)) (local.get $OW)) (local.get $ox)) (local.get $cb))))
      (local.set ${scratchPtr} (i32.add (local.get ${scratchBase}) (i32.mul (i32.sub (local.get $t) (local.get $ta)) (local.get $cb))))`, body);

/**
 * A filter-shaped transform over [planes, Ci, Co] tensors (plane = one tap or point; Ci·Co a multiple of 4):
 * four (ci, co) pairs per step, `n` planes at `src` loaded into $<x>0…, `transform` run, `m` planes of $<y>0…
 * stored at `dst`. Locals $e, $plane (bytes per plane) and $half (0.5 per lane) are the function's.
 */
const overFilterPlanes = (src: string, x: string, n: number, transform: string, dst: string, y: string, m: number) => `
    (local.set $half (v128.const f32x4 0.5 0.5 0.5 0.5))
    (local.set $plane (i32.shl (local.get $CiCo) (i32.const 2)))
    (local.set $e (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $e) (local.get $plane)))
      ${range(n).map((k) => `(local.set $${x}${k} (v128.load align=4 (i32.add (i32.add (local.get ${src}) (local.get $e)) (i32.mul (i32.const ${k}) (local.get $plane)))))`).join('\n      ')}
      ${transform}
      ${range(m).map((k) => `(v128.store align=4 (i32.add (i32.add (local.get ${dst}) (local.get $e)) (i32.mul (i32.const ${k}) (local.get $plane))) (local.get $${y}${k}))`).join('\n      ')}
      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (br $next)))`;

/**
 * The Winograd drivers' loop over chunks of `chunk` tiles: $tH, $tW and $T (tiles) from $B, $OH, $OW; this thread's
 * scratch at $V and `second` (+ $tid chunks of Ci and Co channels); chunks [$ta, $tb) of $n tiles, $ta = `first`
 * and then `next` (expressions) until $ta ≥ $T, each put through the input transform into $V, then `body`.
 */
const overChunks = (second: string, first: string, next: string, body: string, m = 2, input = '$wino_input') => `
    (local.set $tH (i32.div_u (i32.add (local.get $OH) (i32.const ${m - 1})) (i32.const ${m})))
    (local.set $tW (i32.div_u (i32.add (local.get $OW) (i32.const ${m - 1})) (i32.const ${m})))
    (local.set $T (i32.mul (local.get $B) (i32.mul (local.get $tH) (local.get $tW))))
    (local.set $V (i32.add (local.get $V) (i32.mul (local.get $tid) (i32.shl (i32.mul (i32.mul (local.get $chunk) (local.get $Ci)) (i32.const ${(m + 2) ** 2})) (i32.const 2)))))
    (local.set ${second} (i32.add (local.get ${second}) (i32.mul (local.get $tid) (i32.shl (i32.mul (i32.mul (local.get $chunk) (local.get $Co)) (i32.const ${(m + 2) ** 2})) (i32.const 2)))))
    (local.set $ta ${first})
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $ta) (local.get $T)))
      (local.set $tb (select (i32.add (local.get $ta) (local.get $chunk)) (local.get $T)
        (i32.lt_u (i32.add (local.get $ta) (local.get $chunk)) (local.get $T))))
      (local.set $n (i32.sub (local.get $tb) (local.get $ta)))
      (call ${input} (local.get $x) (local.get $V) (local.get $B) (local.get $H) (local.get $W) (local.get $Ci)
        (local.get $tH) (local.get $tW) (local.get $top) (local.get $left) (local.get $ta) (local.get $tb))${body}
      (local.set $ta ${next})
      (br $next)))`;

/**
 * The next chunk of tiles for this thread, as its first tile: chunks are claimed from a counter in memory (zeroed by
 * the caller), so a thread that starts late or runs slowly (descheduled beside XNNPACK's spinning workers) takes
 * fewer chunks instead of holding the others up. Who computes a chunk never changes its sums.
 */
const claimChunk = '(i32.mul (call $claim (local.get $counter)) (local.get $chunk))';

/** $claim(counter): the counter's value before adding 1 (atomically on a shared memory). */
const claimFunc = (shared: boolean) => `
  (func $claim (param $counter i32) (result i32)
    ${shared ? '(i32.atomic.rmw.add (local.get $counter) (i32.const 1))' : `(i32.load (local.get $counter))
    (i32.store (local.get $counter) (i32.add (i32.load (local.get $counter)) (i32.const 1)))`})
`;

/** Per tile size m: its points (m + 2)², the input block's side, and the transforms' code. */
const TILES = {
  2: { side: 4, input: inputTransform, output: outputTransform, tmp: 8, filter: filterTransform, filterTmp: 12 },
  4: { side: 6, input: inputTransform4, output: outputTransform4, tmp: 24, filter: filterTransform4, filterTmp: 18 },
} as const;

/** The filter transform of F(m x m, 3x3): U[p, ci, co] = (G g[:, :, ci, co] Gᵀ)[p], four (ci, co) pairs per step. */
function winoFilter(m: 2 | 4): string {
  const { side, filter, filterTmp } = TILES[m];
  return `
  ;; F(${m}x${m}, 3x3)'s filter transform (winoFilter in winograd.wat.ts); Ci·Co a multiple of 4.
  (func (export "wino${m === 2 ? '' : '4'}_filter") (param $g i32) (param $u i32) (param $CiCo i32)
    (local $e i32) (local $plane i32) (local $half v128)
    ${locals('g', 9, 'v128')} ${locals('h', filterTmp, 'v128')} ${locals('s', side * side, 'v128')}
    ${overFilterPlanes('$g', 'g', 9, filter(), '$u', 's', side * side)}
  )`;
}

/**
 * The input transform of F(m x m, 3x3): V[p, t − ta, c] = (Bᵀ d B)[p] for tiles t in [ta, tb), d the (m + 2)²
 * input block at rows m·ty − top …, columns m·tx − left … of image b (zeros outside the image). C a multiple of 4.
 * F(2x2) exports it as "wino_input".
 */
function winoInput(m: 2 | 4): string {
  const { side, input } = TILES[m];
  const n = side * side;
  return `
  ;; F(${m}x${m}, 3x3)'s input transform (winoInput in winograd.wat.ts).
  (func ${m === 2 ? '$wino_input (export "wino_input")' : '$wino4_input'}
    (param $x i32) (param $V i32) (param $B i32) (param $H i32) (param $W i32) (param $C i32)
    (param $tH i32) (param $tW i32) (param $top i32) (param $left i32) (param $ta i32) (param $tb i32)
    (local $t i32) (local $b i32) (local $r i32) (local $iy i32) (local $ix i32) (local $y i32) (local $xx i32)
    (local $cb i32) (local $c i32) (local $plane i32) (local $vt i32) (local $tiles i32)
    ${locals('p', n, 'i32')} ${locals('m', n, 'i32')}
    ${locals('d', n, 'v128')} ${locals('t', n, 'v128')} ${locals('s', n, 'v128')}
    ${overTiles('$C', `
      (local.set $iy (i32.sub (i32.mul (i32.div_u (local.get $r) (local.get $tW)) (i32.const ${m})) (local.get $top)))
      (local.set $ix (i32.sub (i32.mul (i32.rem_u (local.get $r) (local.get $tW)) (i32.const ${m})) (local.get $left)))
      ${range(n).map((k) => `
      (local.set $y (i32.add (local.get $iy) (i32.const ${Math.floor(k / side)})))
      (local.set $xx (i32.add (local.get $ix) (i32.const ${k % side})))
      (local.set $m${k} (i32.and (i32.lt_u (local.get $y) (local.get $H)) (i32.lt_u (local.get $xx) (local.get $W))))
      (local.set $p${k} (select
        (i32.add (local.get $x) (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $y)) (local.get $W)) (local.get $xx)) (local.get $cb)))
        (local.get $x) (local.get $m${k})))`).join('')}
      (local.set $vt (i32.add (local.get $V) (i32.mul (i32.sub (local.get $t) (local.get $ta)) (local.get $cb))))`, `
          ${range(n).map((k) => `(local.set $d${k} (select (v128.load align=4 (i32.add (local.get $p${k}) (local.get $c))) (v128.const i32x4 0 0 0 0) (local.get $m${k})))`).join('\n          ')}
          ${input()}
          ${range(n).map((k) => `(v128.store align=4 (i32.add (i32.add (local.get $vt) (local.get $c)) (i32.mul (i32.const ${k}) (local.get $plane))) (local.get $s${k}))`).join('\n          ')}`)}
  )`;
}

/**
 * The output transform of F(m x m, 3x3): y = act((Aᵀ M A)[i, j] + bias[co]) for tiles t in [ta, tb), M the tile's
 * (m + 2)² points (M[p, t − ta, co]); bias = 0: none; Co a multiple of 4. Unpooled, y goes to out[b, m·ty + i,
 * m·tx + j, co] where that is inside OH x OW. `pool`: out is the 2x2, stride-2 max pooling of y instead
 * ([B, floor(OH / 2), floor(OW / 2), Co]; the tile holds (m / 2)² windows, each written where it is inside — a valid
 * pooling drops an odd last row or column), by tfjs's cpu pooling's rule (from −∞, NaN never wins). F(2x2)
 * unpooled is exported as "wino_output".
 */
function winoOutput(m: 2 | 4, pool: boolean): string {
  const { side, output, tmp } = TILES[m];
  const n = side * side;
  const w = pool ? m / 2 : m; // stores per tile row and column
  const name = `$wino${m === 2 ? '' : '4'}_output${pool ? '_pool' : ''}`;
  const stores = range(w * w).map((k) => {
    const [i, j] = [Math.floor(k / w), k % w];
    const value = pool
      ? poolMax([0, 1].flatMap((a) => [0, 1].map((b) => `(local.get $y${(2 * i + a) * m + 2 * j + b})`)))
      : `(local.get $y${i * m + j})`;
    const addr = `(i32.add (i32.add (i32.add (local.get $o) (local.get $c)) (i32.mul (i32.const ${i}) (local.get $rs))) (i32.mul (i32.const ${j}) (local.get $cb)))`;
    const store = `(v128.store align=4 ${addr} ${value})`;
    return k === 0 ? store : `(if (i32.and (i32.gt_s (local.get $rows) (i32.const ${i})) (i32.gt_s (local.get $cols) (i32.const ${j}))) (then ${store}))`;
  });
  return `
  ;; F(${m}x${m}, 3x3)'s output transform${pool ? ' with 2x2 max pooling' : ''} (winoOutput in winograd.wat.ts).
  (func ${name}${m === 2 && !pool ? ' (export "wino_output")' : ''}
    (param $M i32) (param $out i32) (param $bias i32) (param $act i32) (param $B i32) (param $OH i32) (param $OW i32)
    (param $Co i32) (param $tH i32) (param $tW i32) (param $ta i32) (param $tb i32)
    (local $t i32) (local $b i32) (local $r i32) (local $oy i32) (local $ox i32) (local $cb i32) (local $c i32)
    (local $plane i32) (local $mt i32) (local $o i32) (local $tiles i32) (local $rows i32) (local $cols i32)
    (local $OHs i32) (local $OWs i32) (local $rs i32) (local $bv v128)
    ${locals('d', n, 'v128')} ${locals('t', tmp, 'v128')} ${locals('y', m * m, 'v128')}
    ;; the stored map's size: the output's, or the pooled output's
    (local.set $OHs ${pool ? '(i32.shr_u (local.get $OH) (i32.const 1))' : '(local.get $OH)'})
    (local.set $OWs ${pool ? '(i32.shr_u (local.get $OW) (i32.const 1))' : '(local.get $OW)'})
    ${overTiles('$Co', `
      (local.set $oy (i32.mul (i32.div_u (local.get $r) (local.get $tW)) (i32.const ${w})))
      (local.set $ox (i32.mul (i32.rem_u (local.get $r) (local.get $tW)) (i32.const ${w})))
      (local.set $rows (i32.sub (local.get $OHs) (local.get $oy)))
      (local.set $cols (i32.sub (local.get $OWs) (local.get $ox)))
      (local.set $rs (i32.mul (local.get $OWs) (local.get $cb)))
      (local.set $o (i32.add (local.get $out) (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $OHs)) (local.get $oy)) (local.get $OWs)) (local.get $ox)) (local.get $cb))))
      (local.set $mt (i32.add (local.get $M) (i32.mul (i32.sub (local.get $t) (local.get $ta)) (local.get $cb))))${pool ? `
      ;; a tile wholly past the pooled output (an odd last row or column): nothing to store
      (if (i32.or (i32.le_s (local.get $rows) (i32.const 0)) (i32.le_s (local.get $cols) (i32.const 0))) (then (local.set $cb (i32.const 0))))` : ''}`, `
          ${range(n).map((k) => `(local.set $d${k} (v128.load align=4 (i32.add (i32.add (local.get $mt) (local.get $c)) (i32.mul (i32.const ${k}) (local.get $plane)))))`).join('\n          ')}
          ${output()}
          (local.set $bv (if (result v128) (local.get $bias)
            (then (v128.load align=4 (i32.add (local.get $bias) (local.get $c)))) (else (v128.const i32x4 0 0 0 0))))
          ${range(m * m).map(epilogue).join('')}
          ${stores.join('\n          ')}`, pool ? `
      (local.set $cb (i32.shl (local.get $Co) (i32.const 2)))` : '')}
  )`;
}

export const winogradWat = (shared: boolean) => String.raw`${claimFunc(shared)}
  ${winoFilter(2)}

  ${winoInput(2)}

  ${winoOutput(2, false)}

  ${winoFilter(4)}

  ${winoInput(4)}

  ${winoOutput(4, false)}

  ${winoOutput(2, true)}

  ${winoOutput(4, true)}

  ;; C[p] = A[p] · B[p] for p < points, rows [r0, r1) of each: A [points, M, K], B [points, K, N], C [points, M, N],
  ;; row-major, N a multiple of 8. Rows go in blocks of 64 (their A stays in cache across B's column panels), each
  ;; block 4 rows x 8 columns at a time with a row-at-a-time tail; k runs in order, so results do not depend on
  ;; how rows are split.
  (func $gemm (export "gemm")
    (param $a0 i32) (param $b0p i32) (param $c0 i32) (param $M i32) (param $K i32) (param $N i32)
    (param $r0 i32) (param $r1 i32) (param $points i32)
    (local $p i32) (local $a i32) (local $bb i32) (local $cc i32) (local $i i32) (local $j i32) (local $k i32)
    (local $i0 i32) (local $iend i32) (local $i4 i32) (local $ap i32) (local $bp i32) (local $cp i32)
    (local $ks i32) (local $ks1 i32) (local $ks2 i32) (local $ks3 i32) (local $ns i32)
    (local $av v128) (local $b0 v128) (local $b1 v128) ${locals('c0', 2, 'v128')} ${locals('c1', 2, 'v128')} ${locals('c2', 2, 'v128')} ${locals('c3', 2, 'v128')}
    (local.set $ks (i32.shl (local.get $K) (i32.const 2)))
    (local.set $ks1 (local.get $ks))
    (local.set $ks2 (i32.shl (local.get $ks) (i32.const 1)))
    (local.set $ks3 (i32.mul (local.get $ks) (i32.const 3)))
    (local.set $ns (i32.shl (local.get $N) (i32.const 2)))
    (if (i32.eqz (local.get $K)) (then (return)))
    (local.set $p (i32.const 0))
    (block $p_done (loop $p_next
      (br_if $p_done (i32.ge_u (local.get $p) (local.get $points)))
      (local.set $a (i32.add (local.get $a0) (i32.mul (i32.mul (local.get $p) (local.get $M)) (local.get $ks))))
      (local.set $bb (i32.add (local.get $b0p) (i32.mul (i32.mul (local.get $p) (local.get $K)) (local.get $ns))))
      (local.set $cc (i32.add (local.get $c0) (i32.mul (i32.mul (local.get $p) (local.get $M)) (local.get $ns))))
      (local.set $i0 (local.get $r0))
      (block $blk_done (loop $blk_next
        (br_if $blk_done (i32.ge_u (local.get $i0) (local.get $r1)))
        (local.set $iend (select (i32.add (local.get $i0) (i32.const 64)) (local.get $r1)
          (i32.lt_u (i32.add (local.get $i0) (i32.const 64)) (local.get $r1))))
        (local.set $i4 (i32.add (local.get $i0) (i32.and (i32.sub (local.get $iend) (local.get $i0)) (i32.const -4))))
        (local.set $j (i32.const 0))
        (block $j_done (loop $j_next
          (br_if $j_done (i32.ge_u (local.get $j) (local.get $N)))
          (local.set $i (local.get $i0))
          (block $i_done (loop $i_next
            (br_if $i_done (i32.ge_u (local.get $i) (local.get $i4)))${gemmBlock(4)}
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $i_next)))
          (block $r_done (loop $r_next
            (br_if $r_done (i32.ge_u (local.get $i) (local.get $iend)))${gemmBlock(1)}
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $r_next)))
          (local.set $j (i32.add (local.get $j) (i32.const 8)))
          (br $j_next)))
        (local.set $i0 (local.get $iend))
        (br $blk_next)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $p_next)))
  )

  ;; The whole convolution for one thread: filter transform done (U), tiles in chunks of $chunk, each thread claiming
  ;; the next chunk from the counter at $counter (zeroed by the caller) until none is left, with its own V and M
  ;; scratch (at $V / $M + $tid · one chunk's bytes). Which thread computes a tile does not change its sums, so the
  ;; output does not depend on the thread count or on which thread was faster. winograd4: F(4x4, 3x3), 36 points;
  ;; the _pool variants write the 2x2, stride-2 max pooling of the output instead of the output.
  ${([['winograd', 2, '$wino_output'], ['winograd4', 4, '$wino4_output'], ['winograd_pool', 2, '$wino_output_pool'], ['winograd4_pool', 4, '$wino4_output_pool']] as const).map(([name, m, output]) => `
  (func (export "${name}")
    (param $x i32) (param $u i32) (param $V i32) (param $M i32) (param $out i32) (param $bias i32) (param $act i32)
    (param $B i32) (param $H i32) (param $W i32) (param $Ci i32) (param $Co i32) (param $OH i32) (param $OW i32)
    (param $top i32) (param $left i32) (param $chunk i32) (param $counter i32) (param $tid i32) (param $threads i32)
    (local $tH i32) (local $tW i32) (local $T i32) (local $ta i32) (local $tb i32) (local $n i32)
    ${overChunks('$M', claimChunk, claimChunk, `
      (call $gemm (local.get $V) (local.get $u) (local.get $M) (local.get $n) (local.get $Ci) (local.get $Co)
        (i32.const 0) (local.get $n) (i32.const ${(m + 2) ** 2}))
      (call ${output} (local.get $M) (local.get $out) (local.get $bias) (local.get $act) (local.get $B) (local.get $OH)
        (local.get $OW) (local.get $Co) (local.get $tH) (local.get $tW) (local.get $ta) (local.get $tb))`, m, m === 4 ? '$wino4_input' : '$wino_input')}
  )`).join('')}

  ;; The filter gradient (Lavin & Gray's transposed algorithm): with M = U ⊙ V and y = Aᵀ M A per tile,
  ;; dU[p, ci, co] = Σ_t V[p, t, ci] · (A dy_t Aᵀ)[p, co] and dg = Gᵀ dU G.

  ;; Wd[p, t − ta, co] = (A dy Aᵀ)[p] for tiles t in [ta, tb), dy the tile's 2x2 block of the output gradient
  ;; (zeros past OH / OW). Co a multiple of 4.
  (func $wino_dy
    (param $dy i32) (param $Wd i32) (param $B i32) (param $OH i32) (param $OW i32) (param $Co i32)
    (param $tH i32) (param $tW i32) (param $ta i32) (param $tb i32)
    (local $t i32) (local $b i32) (local $r i32) (local $oy i32) (local $ox i32) (local $cb i32) (local $c i32)
    (local $plane i32) (local $wt i32) (local $o i32) (local $tiles i32) (local $right i32) (local $below i32)
    ${locals('y', 4, 'v128')} ${locals('t', 8, 'v128')} ${locals('s', 16, 'v128')}
    ${overOutputTiles('$dy', '$wt', '$Wd', `
          (local.set $y0 (v128.load align=4 (i32.add (local.get $o) (local.get $c))))
          (local.set $y1 (select (v128.load align=4 (i32.add (i32.add (local.get $o) (local.get $cb)) (local.get $c))) (v128.const i32x4 0 0 0 0) (local.get $right)))
          (local.set $y2 (select (v128.load align=4 (i32.add (i32.add (local.get $o) (i32.mul (local.get $OW) (local.get $cb))) (local.get $c))) (v128.const i32x4 0 0 0 0) (local.get $below)))
          (local.set $y3 (select (v128.load align=4 (i32.add (i32.add (local.get $o) (i32.mul (i32.add (local.get $OW) (i32.const 1)) (local.get $cb))) (local.get $c))) (v128.const i32x4 0 0 0 0) (i32.and (local.get $right) (local.get $below))))
          ${outputGradTransform()}
          ${range(16).map((k) => `(v128.store align=4 (i32.add (i32.add (local.get $wt) (local.get $c)) (i32.mul (i32.const ${k}) (local.get $plane))) (local.get $s${k}))`).join('\n          ')}`)}
  )

  ;; C [M, N] += Aᵀ B with A [K, M], B [K, N] row-major; M a multiple of 4, N of 8, K ≥ 1. Each element's terms are
  ;; added in k order onto what C holds, so a sum taken chunk by chunk of k is the same as in one call. k goes in
  ;; blocks of 256 (the blocks' rows of A and B stay in cache across C's 4x8 blocks); this thread takes the 4x8
  ;; blocks numbered tid, tid + threads, … — each element is one thread's, in the same order for any count.
  (func $gemm_tn (export "gemm_tn") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
    (param $tid i32) (param $threads i32)
    (local $i i32) (local $j i32) (local $k i32) (local $ap i32) (local $bp i32) (local $cp i32) (local $ms i32) (local $ns i32)
    (local $kb i32) (local $kn i32) (local $blk i32)
    (local $a4 v128) (local $av v128) (local $b0 v128) (local $b1 v128)
    ${locals('c0', 2, 'v128')} ${locals('c1', 2, 'v128')} ${locals('c2', 2, 'v128')} ${locals('c3', 2, 'v128')}
    (local.set $ms (i32.shl (local.get $M) (i32.const 2)))
    (local.set $ns (i32.shl (local.get $N) (i32.const 2)))
    (local.set $kb (i32.const 0))
    (block $kb_done (loop $kb_next
      (br_if $kb_done (i32.ge_u (local.get $kb) (local.get $K)))
      (local.set $kn (select (i32.const 256) (i32.sub (local.get $K) (local.get $kb))
        (i32.lt_u (i32.const 256) (i32.sub (local.get $K) (local.get $kb)))))
      (local.set $blk (i32.const 0))
      (local.set $i (i32.const 0))
      (block $i_done (loop $i_next
        (br_if $i_done (i32.ge_u (local.get $i) (local.get $M)))
        (local.set $j (i32.const 0))
        (block $j_done (loop $j_next
          (br_if $j_done (i32.ge_u (local.get $j) (local.get $N)))
          (if (i32.eq (i32.rem_u (local.get $blk) (local.get $threads)) (local.get $tid)) (then${gemmTnBlock()}))
          (local.set $blk (i32.add (local.get $blk) (i32.const 1)))
          (local.set $j (i32.add (local.get $j) (i32.const 8)))
          (br $j_next)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $i_next)))
      (local.set $kb (i32.add (local.get $kb) (local.get $kn)))
      (br $kb_next)))
  )

  ;; C [M, N] = A [M, K] · B [K, N] (gemm, one point), rows split into contiguous ranges, one per thread.
  (func (export "gemm_rows") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
    (param $tid i32) (param $threads i32)
    (local $per i32)
    (local.set $per (i32.div_u (i32.add (local.get $M) (i32.sub (local.get $threads) (i32.const 1))) (local.get $threads)))
    (call $gemm (local.get $a) (local.get $b) (local.get $c) (local.get $M) (local.get $K) (local.get $N)
      (select (local.get $M) (i32.mul (local.get $tid) (local.get $per)) (i32.gt_u (i32.mul (local.get $tid) (local.get $per)) (local.get $M)))
      (select (local.get $M) (i32.mul (i32.add (local.get $tid) (i32.const 1)) (local.get $per)) (i32.gt_u (i32.mul (i32.add (local.get $tid) (i32.const 1)) (local.get $per)) (local.get $M)))
      (i32.const 1))
  )

  ;; dg[3, 3, Ci, Co] = Gᵀ dU G from dU [16, Ci, Co], four (ci, co) pairs per step.
  (func (export "wino_filter_grad") (param $dU i32) (param $dg i32) (param $CiCo i32)
    (local $e i32) (local $plane i32) (local $half v128)
    ${locals('d', 16, 'v128')} ${locals('h', 12, 'v128')} ${locals('g', 9, 'v128')}
    ${overFilterPlanes('$dU', 'd', 16, filterGradTransform(), '$dg', 'g', 9)}
  )

  ;; dU for one thread: every thread transforms every chunk of tiles (V and Wd in its own scratch) and accumulates
  ;; the points p ≡ tid (mod threads) into dU (zeroed by the caller). Each dU[p] is summed over tiles in order by
  ;; one thread, so the result does not depend on the thread count or the chunk size.
  (func (export "winograd_filter_grad")
    (param $x i32) (param $dy i32) (param $V i32) (param $Wd i32) (param $dU i32)
    (param $B i32) (param $H i32) (param $W i32) (param $Ci i32) (param $Co i32) (param $OH i32) (param $OW i32)
    (param $top i32) (param $left i32) (param $chunk i32) (param $tid i32) (param $threads i32)
    (local $tH i32) (local $tW i32) (local $T i32) (local $ta i32) (local $tb i32) (local $n i32) (local $p i32)
    ${overChunks('$Wd', '(i32.const 0)', '(i32.add (local.get $ta) (local.get $chunk))', `
      (call $wino_dy (local.get $dy) (local.get $Wd) (local.get $B) (local.get $OH) (local.get $OW) (local.get $Co)
        (local.get $tH) (local.get $tW) (local.get $ta) (local.get $tb))
      (local.set $p (local.get $tid))
      (block $p_done (loop $p_next
        (br_if $p_done (i32.ge_u (local.get $p) (i32.const 16)))
        (call $gemm_tn
          (i32.add (local.get $V) (i32.shl (i32.mul (i32.mul (local.get $p) (local.get $n)) (local.get $Ci)) (i32.const 2)))
          (i32.add (local.get $Wd) (i32.shl (i32.mul (i32.mul (local.get $p) (local.get $n)) (local.get $Co)) (i32.const 2)))
          (i32.add (local.get $dU) (i32.shl (i32.mul (i32.mul (local.get $p) (local.get $Ci)) (local.get $Co)) (i32.const 2)))
          (local.get $Ci) (local.get $n) (local.get $Co) (i32.const 0) (i32.const 1))
        (local.set $p (i32.add (local.get $p) (local.get $threads)))
        (br $p_next)))`)}
  )

  ;; out[taps − 1 − k, co, ci] = g[k, ci, co] for the taps k of a [fh, fw, Ci, Co] filter: flipped in space and
  ;; transposed to [fh, fw, Co, Ci] (the input gradient's filter).
  (func (export "flip_transpose") (param $g i32) (param $out i32) (param $taps i32) (param $Ci i32) (param $Co i32)
    (local $k i32) (local $ci i32) (local $co i32) (local $src i32) (local $dst i32) (local $plane i32)
    (local.set $plane (i32.shl (i32.mul (local.get $Ci) (local.get $Co)) (i32.const 2)))
    (local.set $src (local.get $g))
    ${forRange('$k', '(local.get $taps)', forRange('$ci', '(local.get $Ci)', `
        (local.set $dst (i32.add (i32.add (local.get $out) (i32.mul (i32.sub (i32.sub (local.get $taps) (i32.const 1)) (local.get $k)) (local.get $plane)))
          (i32.shl (local.get $ci) (i32.const 2))))${forRange('$co', '(local.get $Co)', `
          (f32.store (local.get $dst) (f32.load (local.get $src)))
          (local.set $src (i32.add (local.get $src) (i32.const 4)))
          (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $Ci) (i32.const 2))))`)}`))}
  )
`;
