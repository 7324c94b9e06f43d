/**
 * Conv2D and FusedConv2D for wasm: stride-1, undilated 3x3 convolutions with ≥ 8 input channels by Winograd's
 * F(2x2, 3x3) (simd/winograd.wat.ts) — 2.25x fewer multiplies than the direct convolution tfjs's XNNPACK kernel
 * runs, with bias and ReLU / ReLU6 applied as the output is written, on convlens's SIMD threads (simd/pool.ts).
 * Everything else (other filter sizes, strides, dilations, channel counts that are not multiples of 4 in and 8
 * out, other fused activations, a prelu or a bias that is not one value per output channel, NCHW) runs tfjs's
 * own kernel.
 *
 * Tiles go through in chunks (input transform → 16 products → output transform) so the transformed chunk stays in
 * cache and the scratch stays small for 224-pixel inputs; each thread claims the next chunk from a shared counter
 * until none is left (a thread that starts late does less, instead of holding the others up). Every output is
 * the same sums in the same order whoever computes its chunk, so results are bit-for-bit the same for any thread
 * count. Against the direct convolution they differ by rounding only (the transforms add and subtract inputs
 * before multiplying): relative error ~1e-6 on random data, tested against the cpu backend. VGG16 at 224x224,
 * per image: 941 → 389 ms at 1 thread, 510 → 216 ms at 2.
 */
import { backend_util, Conv2D, FusedConv2D, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';
import { onAllThreads, poolThreads } from '../simd/pool.ts';
import { simdKernels } from '../simd/simd.ts';
import { callKernel, heapOffset, type KernelArgs, type WasmBackend, withTemps } from './wasm-calls.ts';

/** Activations applied in the output transform (wino_output's `act`). */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2 };

/**
 * Input channels below this run XNNPACK's direct kernel: the products get too short to win (measured against
 * XNNPACK, batch 32, 1 / 2 threads: 4 → 8 at 64x64 1.16x / 1.12x, 8 → 16 at 32x32 1.45x / 1.36x, 16 → 32 at 16x16
 * 1.89x / 1.85x, 64 → 64 at 8x8 2.15x / 1.99x).
 */
export const MIN_WINOGRAD_CHANNELS = 8;

/**
 * Scratch per chunk of tiles, in float32s (V and M together): 256 KB, so a chunk's products run from cache (1 MB
 * and one chunk for the whole batch measured the same or slower on 8x8 to 56x56 layers). At least 32 tiles.
 * Mutable for tests (several chunks on small inputs).
 */
export const winogradBudget = { floats: 1 << 16 };

/** Tiles per chunk for T tiles of Ci → Co channels, at most ⌈T / parts⌉ (so `parts` threads all get one). */
export function winogradChunk(T: number, Ci: number, Co: number, parts = 1, points = 16): number {
  return Math.min(Math.ceil(T / parts), Math.max(32, Math.floor(winogradBudget.floats / (points * (Ci + Co)))));
}

/**
 * Output tile size: 4 (F(4x4, 3x3), 36 products per 16 outputs) or 2 (F(2x2, 3x3), 16 per 4). 'auto' takes
 * F(4x4, 3x3) when the layer has at least `minTiles4` of its 4x4 tiles (B·⌈OH/4⌉·⌈OW/4⌉): each transformed filter
 * point U[p] (Ci x Co) is read once per chunk of tiles, and F(4x4, 3x3) has 2.25x as many of them, so few tiles
 * leave its products waiting on memory. Measured against F(2x2, 3x3) (fused 3x3 conv + bias + ReLU, 2 threads,
 * alternating 7x): batch 32 at 32x32 8 → 16 1.29x, 16x16 16 → 32 1.10x, 8x8 32 → 64 1.28x, 8x8 64 → 64 1.22x
 * (1.09–1.46x on 1 thread); one image 224x224 64 → 64 1.55x, 112x112 128 → 128 1.45x, 56x56 256 → 256 1.51x,
 * 28x28 512 → 512 (49 tiles) 1.22x; but 14x14 512 → 512 with 16 tiles 0.83x, batch 4 (64 tiles) 1.06x, 7x7
 * batch 4 (16 tiles) 0.87x. `tile` forces one (tests, measurements).
 */
export const winogradTiles: { tile: 'auto' | 2 | 4; minTiles4: number } = { tile: 'auto', minTiles4: 48 };

export function winogradTile(B: number, OH: number, OW: number): 2 | 4 {
  if (winogradTiles.tile !== 'auto') return winogradTiles.tile;
  return B * Math.ceil(OH / 4) * Math.ceil(OW / 4) >= winogradTiles.minTiles4 ? 4 : 2;
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

/** The convolution's geometry when Winograd applies to it, else null. */
export function winogradPlan(xShape: number[], filterShape: number[], attrs: ConvAttrs): backend_util.Conv2DInfo | null {
  if (attrs.dataFormat === 'NCHW' || xShape.length !== 4) return null;
  const [fh, fw, ci, co] = filterShape;
  if (fh !== 3 || fw !== 3 || ci % 4 !== 0 || co % 8 !== 0 || ci < MIN_WINOGRAD_CHANNELS) return null;
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number], attrs.strides,
    attrs.dilations, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
  );
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  if (info.outHeight < 1 || info.outWidth < 1) return null;
  return info;
}

/**
 * out = act(conv(x, filter) + bias) by F(2x2, 3x3); `plan` from winogradPlan. bias: [Co] or null; act: 0 none,
 * 1 ReLU, 2 ReLU6.
 */
export function winogradConv2D(
  backend: WasmBackend, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | null, act: number,
  plan: backend_util.Conv2DInfo, pool = false,
): TensorInfo {
  const [B, H, W, Ci] = x.shape;
  const Co = filter.shape[3];
  const { outHeight: OH, outWidth: OW } = plan;
  const { top, left } = plan.padInfo;
  const tile = winogradTile(B, OH, OW);
  const points = (tile + 2) ** 2;
  const T = B * Math.ceil(OH / tile) * Math.ceil(OW / tile);
  const threads = poolThreads();
  // At least one chunk per thread; chunks never change the sums, only who computes them.
  const chunk = winogradChunk(T, Ci, Co, threads, points);
  const k = simdKernels();
  const out = backend.makeOutput(pool ? [B, OH >> 1, OW >> 1, Co] : [B, OH, OW, Co], 'float32');
  withTemps(backend, (temp) => {
    const u = temp(backend.makeOutput([points, Ci, Co], 'float32'));
    const v = temp(backend.makeOutput([threads, points, chunk, Ci], 'float32')); // one chunk's scratch per thread
    const m = temp(backend.makeOutput([threads, points, chunk, Co], 'float32'));
    const counter = temp(backend.makeOutput([1], 'int32')); // the next chunk to claim
    (backend.typedArrayFromHeap(counter) as Int32Array)[0] = 0;
    // Offsets are taken after every allocation (a growing heap keeps offsets; views would go stale).
    const [pu, pv, pm, px, pg, po, pc] = [u, v, m, x, filter, out, counter].map((t) => heapOffset(backend, t));
    (tile === 4 ? k.wino4_filter : k.wino_filter)(pg, pu, Ci * Co);
    const args = [px, pu, pv, pm, po, bias ? heapOffset(backend, bias) : 0, act, B, H, W, Ci, Co, OH, OW, top, left, chunk, pc];
    const name = `${tile === 4 ? 'winograd4' : 'winograd'}${pool ? '_pool' : ''}` as const;
    onAllThreads(name, args, (tid, n) => (k[name] as (...a: number[]) => void)(...args, tid, n));
  });
  return out;
}

/** Conv2D: by Winograd where it applies, else tfjs's kernel. Also the convolution inside the input gradient. */
export function conv2d({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { x, filter } = inputs;
  const plan = winogradPlan(x.shape, filter.shape, attrs as unknown as ConvAttrs);
  if (plan == null || x.dtype !== 'float32') return callKernel(backend, Conv2D, inputs, attrs);
  return winogradConv2D(backend, x, filter, null, 0, plan);
}

function fusedConv2d({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { x, filter, bias, preluActivationWeights } = inputs;
  const a = attrs as unknown as ConvAttrs;
  const act = ACTIVATIONS[a.activation ?? 'linear'];
  const plan = winogradPlan(x.shape, filter.shape, a);
  const biasOk = bias == null || (bias.shape.length === 1 && bias.shape[0] === filter.shape[3]);
  if (plan == null || act == null || preluActivationWeights != null || !biasOk || x.dtype !== 'float32') {
    return callKernel(backend, FusedConv2D, inputs, attrs);
  }
  return winogradConv2D(backend, x, filter, bias ?? null, act, plan);
}

/** A convolution followed by a 2x2, stride-2 valid max pooling, computed as one kernel (engine/folded.ts). */
export const CONV_POOL = 'ConvlensConvPool2x2';

interface ConvPoolAttrs {
  pad: 'valid' | 'same';
  activation: string;
}

/**
 * Whether CONV_POOL applies: a stride-1 3x3 convolution Winograd takes, with a linear / ReLU / ReLU6 activation
 * and at least one pooled row and column.
 */
export function convPoolApplies(xShape: number[], filterShape: number[], attrs: ConvPoolAttrs): boolean {
  const plan = winogradPlan(xShape, filterShape, { strides: 1, pad: attrs.pad, dataFormat: 'NHWC', dilations: 1 });
  return plan != null && ACTIVATIONS[attrs.activation] != null && plan.outHeight >= 2 && plan.outWidth >= 2;
}

/**
 * maxPool(act(conv(x, filter) + bias), 2, 2, 'valid') in one pass: each Winograd tile's outputs are pooled as
 * they are written (an F(2x2, 3x3) tile is one pooling window, an F(4x4, 3x3) tile four), so the convolution's
 * full-size output is never stored and read back. Inputs x, filter, bias (optional); attrs pad, activation.
 */
function convPool({ inputs, attrs, backend }: KernelArgs): TensorInfo {
  const { x, filter, bias } = inputs;
  const a = attrs as unknown as ConvPoolAttrs;
  const plan = winogradPlan(x.shape, filter.shape, { strides: 1, pad: a.pad, dataFormat: 'NHWC', dilations: 1 });
  if (plan == null || !convPoolApplies(x.shape, filter.shape, a) || x.dtype !== 'float32') {
    throw new Error(`convlens engine: ${CONV_POOL} does not apply to x [${x.shape}], filter [${filter.shape}] (check convPoolApplies first)`);
  }
  return winogradConv2D(backend, x, filter, bias ?? null, ACTIVATIONS[a.activation], plan, true);
}

export const convPoolConfig: KernelConfig = { kernelName: CONV_POOL, backendName: 'wasm', kernelFunc: convPool as never };

export const conv2dConfig: KernelConfig = { kernelName: Conv2D, backendName: 'wasm', kernelFunc: conv2d as never };
export const fusedConv2dConfig: KernelConfig = { kernelName: FusedConv2D, backendName: 'wasm', kernelFunc: fusedConv2d as never };
