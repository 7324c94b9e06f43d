/**
 * Every convlens wasm kernel against tfjs's cpu backend on random inputs (several shapes, stride 1 and 2,
 * valid / same / explicit padding, dilation where the kernel takes it, batch 1 and many), relative error
 * ≤ 1e-5; then finite-difference checks of the gradients that training uses, on tiny cases.
 */
import * as tf from '@tensorflow/tfjs';
import { backend_util } from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/data/batches.ts';
import { directFilterGrad, filterGradPath, im2colBudget } from '../../src/engine/kernels/conv2d-backprop-filter.ts';
import { wasmKernels } from '../../src/engine/kernels/index.ts';
import { isReducibleBlock } from '../../src/engine/kernels/reduce-leading.ts';
import { CONV_POOL, convPoolApplies, winogradBudget, winogradPlan, winogradTile, winogradTiles } from '../../src/engine/kernels/winograd-conv2d.ts';
import { onBoth, relError, useBackend } from '../helpers/backends.ts';

type Pad = 'valid' | 'same' | backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

let seed = 1;
function random(shape: number[], zeroFraction = 0): { values: Float32Array; shape: number[] } {
  const rand = mulberry32(seed++);
  const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () =>
    rand() < zeroFraction ? 0 : rand() * 2 - 1,
  );
  return { values, shape };
}
const t = (r: { values: Float32Array; shape: number[] }) => tf.tensor(r.values, r.shape);

function run(name: string, inputs: Record<string, { values: Float32Array; shape: number[] }>, attrs: object) {
  return () => {
    const ins = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, t(v)]));
    return tf.engine().runKernel(name, ins as never, attrs as never) as tf.Tensor;
  };
}

const EXPLICIT: Pad = [[0, 0], [1, 2], [2, 0], [0, 0]];

interface ConvCase {
  x: Shape4;
  f: [number, number];
  co: number;
  stride: number;
  pad: Pad;
}
const convCases: ConvCase[] = [
  { x: [1, 7, 7, 1], f: [3, 3], co: 2, stride: 1, pad: 'valid' },
  { x: [5, 9, 10, 3], f: [3, 3], co: 4, stride: 1, pad: 'same' },
  { x: [4, 9, 10, 3], f: [3, 2], co: 5, stride: 2, pad: 'same' },
  { x: [3, 11, 8, 2], f: [5, 5], co: 3, stride: 2, pad: 'valid' },
  { x: [2, 8, 9, 4], f: [3, 3], co: 2, stride: 1, pad: EXPLICIT },
  { x: [2, 12, 12, 2], f: [4, 4], co: 3, stride: 2, pad: EXPLICIT },
  { x: [8, 28, 28, 1], f: [5, 5], co: 6, stride: 1, pad: 'valid' }, // LeNet-5's first layer
  { x: [4, 8, 8, 6], f: [1, 1], co: 10, stride: 1, pad: 'same' }, // MobileNet's pointwise convs: matmul path
  { x: [2, 5, 7, 3], f: [1, 1], co: 4, stride: 1, pad: 'valid' },
  { x: [2, 8, 8, 3], f: [1, 1], co: 4, stride: 2, pad: 'valid' }, // strided 1x1: general path
  { x: [3, 10, 9, 9], f: [3, 3], co: 7, stride: 1, pad: 'same' }, // channels 4 at a time plus a tail
  { x: [2, 11, 9, 16], f: [3, 3], co: 8, stride: 2, pad: 'valid' },
  { x: [2, 9, 9, 8], f: [2, 3], co: 5, stride: 1, pad: EXPLICIT },
  { x: [3, 7, 6, 5], f: [1, 1], co: 30, stride: 1, pad: 'same' }, // a widening 1x1: x is the packed operand
  // Stride-1 3x3 with channels in multiples of 4 and 8 (16 ≤ Ci): the input gradient's convolution by Winograd.
  { x: [3, 9, 7, 16], f: [3, 3], co: 24, stride: 1, pad: 'same' },
  { x: [2, 10, 11, 8], f: [3, 3], co: 16, stride: 1, pad: 'valid' },
  { x: [2, 8, 9, 16], f: [3, 3], co: 16, stride: 1, pad: EXPLICIT },
  // Pointwise gradients as convlens's products (Ci a multiple of 4 for the filter's, 8 for the input's): rows not a
  // multiple of 4, and 1,800 pixels (the filter gradient's k in blocks of 256 with a short last one).
  { x: [4, 8, 8, 8], f: [1, 1], co: 16, stride: 1, pad: 'same' },
  { x: [3, 5, 7, 16], f: [1, 1], co: 24, stride: 1, pad: 'valid' },
  { x: [2, 30, 30, 8], f: [1, 1], co: 8, stride: 1, pad: 'valid' },
  { x: [2, 6, 6, 4], f: [1, 1], co: 8, stride: 1, pad: 'valid' }, // filter gradient only (Ci 4: XNNPACK for dx)
  // The filter gradient by Winograd with channels padded: 3 → 8 (an RGB input layer), 7 → 14 (both padded).
  { x: [3, 9, 9, 3], f: [3, 3], co: 8, stride: 1, pad: 'same' }, // (since the direct sums: Ci 3 → 8 outputs)
  { x: [2, 7, 8, 7], f: [3, 3], co: 14, stride: 1, pad: 'valid' },
  // The direct filter gradient (Ci ≤ 8 outside Winograd; filter-grad.wat.ts): three 8-output chunks with 75 taps in
  // blocks of 6 (the last repeating a tap), stride 2 and 'same'; 4 taps and one output padded to 8.
  { x: [3, 10, 9, 5], f: [5, 3], co: 19, stride: 2, pad: 'same' },
  // A ResNet stem (7x7 stride 2 on RGB after its ZeroPadding2D) and its 'same' twin: the col2im input gradient.
  { x: [2, 21, 21, 3], f: [7, 7], co: 8, stride: 2, pad: 'valid' },
  { x: [2, 16, 15, 3], f: [7, 7], co: 8, stride: 2, pad: 'same' },
  { x: [2, 13, 11, 1], f: [2, 2], co: 1, stride: 1, pad: 'valid' },
];

/** Forward convolutions: Winograd's F(2x2, 3x3) where it applies (odd and even sizes, a 1x1 image, every
 * padding, bias and ReLU / ReLU6), tfjs's kernel elsewhere (3 or 4 input channels, stride 2, dilation 2, 5x5). */
interface ForwardCase extends ConvCase {
  act: 'linear' | 'relu' | 'relu6' | 'elu';
  bias: boolean;
  dilation?: number;
  winograd: boolean;
}
const forwardCases: ForwardCase[] = [
  { x: [2, 9, 7, 16], f: [3, 3], co: 8, stride: 1, pad: 'same', act: 'linear', bias: false, winograd: true },
  { x: [3, 10, 11, 16], f: [3, 3], co: 16, stride: 1, pad: 'valid', act: 'relu', bias: true, winograd: true },
  { x: [1, 5, 5, 20], f: [3, 3], co: 24, stride: 1, pad: 'same', act: 'relu6', bias: true, winograd: true },
  { x: [32, 8, 8, 64], f: [3, 3], co: 64, stride: 1, pad: 'same', act: 'linear', bias: false, winograd: true }, // GAP CNN
  { x: [2, 1, 1, 16], f: [3, 3], co: 8, stride: 1, pad: 'same', act: 'relu', bias: true, winograd: true },
  { x: [2, 8, 9, 16], f: [3, 3], co: 16, stride: 1, pad: EXPLICIT, act: 'relu', bias: true, winograd: true },
  { x: [2, 9, 9, 16], f: [3, 3], co: 8, stride: 1, pad: 'same', act: 'elu', bias: true, winograd: false },
  { x: [2, 9, 9, 3], f: [3, 3], co: 8, stride: 1, pad: 'same', act: 'relu', bias: true, winograd: false },
  { x: [2, 9, 9, 8], f: [3, 3], co: 16, stride: 1, pad: 'same', act: 'linear', bias: false, winograd: true },
  { x: [2, 9, 9, 4], f: [3, 3], co: 16, stride: 1, pad: 'same', act: 'linear', bias: false, winograd: false },
  { x: [2, 9, 9, 16], f: [3, 3], co: 12, stride: 1, pad: 'same', act: 'linear', bias: false, winograd: false },
  { x: [2, 9, 9, 16], f: [3, 3], co: 8, stride: 2, pad: 'same', act: 'linear', bias: true, winograd: false },
  { x: [2, 12, 12, 16], f: [3, 3], co: 8, stride: 1, pad: 'same', act: 'relu', bias: false, dilation: 2, winograd: false },
  { x: [2, 9, 9, 16], f: [5, 5], co: 8, stride: 1, pad: 'same', act: 'linear', bias: false, winograd: false },
];

function convOut(c: ConvCase): Shape4 {
  const info = backend_util.computeConv2DInfo(c.x, [...c.f, c.x[3], c.co], c.stride, 1, c.pad as never);
  return info.outShape as Shape4;
}

interface DepthwiseCase extends Omit<ConvCase, 'co'> {
  m: number;
  dilation: number;
}
const depthwiseCases: DepthwiseCase[] = [
  { x: [1, 7, 7, 3], f: [3, 3], m: 1, stride: 1, dilation: 1, pad: 'same' },
  { x: [6, 9, 10, 4], f: [3, 3], m: 1, stride: 2, dilation: 1, pad: 'same' },
  { x: [3, 9, 9, 2], f: [3, 3], m: 2, stride: 1, dilation: 1, pad: 'valid' },
  { x: [2, 11, 10, 3], f: [3, 3], m: 3, stride: 2, dilation: 1, pad: 'valid' },
  { x: [2, 12, 11, 2], f: [3, 3], m: 1, stride: 1, dilation: 2, pad: 'same' },
  { x: [3, 13, 12, 2], f: [3, 2], m: 2, stride: 1, dilation: 2, pad: 'valid' },
  { x: [2, 10, 10, 3], f: [3, 3], m: 1, stride: 2, dilation: 1, pad: [[0, 0], [1, 1], [0, 1], [0, 0]] },
  { x: [3, 10, 9, 9], f: [3, 3], m: 1, stride: 1, dilation: 1, pad: 'same' }, // 4 + 4 + 1 channels
  { x: [2, 12, 12, 8], f: [5, 5], m: 1, stride: 2, dilation: 1, pad: 'same' },
  // Stride 2 and 3, multiplier 1: the input gradient by output phase (even and odd sizes, a 1x1 filter whose odd
  // pixels get nothing, a 2x2 filter, MobileNetV2's stride-2 block).
  { x: [2, 8, 8, 4], f: [3, 3], m: 1, stride: 2, dilation: 1, pad: 'valid' },
  { x: [1, 9, 9, 5], f: [1, 1], m: 1, stride: 2, dilation: 1, pad: 'valid' },
  { x: [2, 10, 7, 4], f: [2, 2], m: 1, stride: 2, dilation: 1, pad: 'same' },
  { x: [1, 11, 11, 4], f: [3, 3], m: 1, stride: 3, dilation: 1, pad: 'same' },
  { x: [2, 16, 16, 48], f: [3, 3], m: 1, stride: 2, dilation: 1, pad: 'same' },
];

function depthwiseOut(c: DepthwiseCase): Shape4 {
  const info = backend_util.computeConv2DInfo(c.x, [...c.f, c.x[3], c.m], c.stride, c.dilation, c.pad as never, undefined, true);
  return info.outShape as Shape4;
}

const TOL = 1e-5;

function effectiveShape(shape: number[], d: number): number[] {
  return [(shape[0] - 1) * d + 1, (shape[1] - 1) * d + 1, shape[2], shape[3]];
}

/** Insert d − 1 zeros between filter taps: a dilation-d filter as an equivalent dilation-1 filter. */
function dilateFilter(f: { values: Float32Array; shape: number[] }, d: number) {
  const [fh, fw, c, m] = f.shape;
  const shape = effectiveShape(f.shape, d);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < fh; i++) {
    for (let j = 0; j < fw; j++) {
      for (let k = 0; k < c * m; k++) values[((i * d) * shape[1] + j * d) * c * m + k] = f.values[(i * fw + j) * c * m + k];
    }
  }
  return { values, shape };
}

beforeAll(async () => {
  await useBackend('wasm');
});

/** Run `f` with Winograd's tile size forced to `tile`, then back to the automatic choice. */
async function withTile<T>(tile: 2 | 4, f: () => Promise<T>): Promise<T> {
  winogradTiles.tile = tile;
  try {
    return await f();
  } finally {
    winogradTiles.tile = 'auto';
  }
}

describe('wasm kernels match the cpu backend', () => {
  it.each(convCases)('Conv2DBackpropFilter x=%j', async (c) => {
    const fn = run('Conv2DBackpropFilter', { x: random(c.x), dy: random(convOut(c)) }, {
      strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: [...c.f, c.x[3], c.co],
    });
    const { cpu, wasm } = await onBoth(fn);
    expect(relError(wasm, cpu)).toBeLessThan(TOL);
  });

  it('Conv2DBackpropFilter with few input channels: the direct sums and the im2col route both match cpu', async () => {
    // LeNet-5's first layer and MobileNetV2's stride-2 RGB stem, each way (the two sum each element in the same
    // order, so they agree to the bit here; the path choice is tested below).
    for (const c of [convCases[6], { x: [4, 33, 33, 3], f: [3, 3], co: 16, stride: 2, pad: 'same' } as ConvCase]) {
      const fn = run('Conv2DBackpropFilter', { x: random(c.x), dy: random(convOut(c)) }, {
        strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: [...c.f, c.x[3], c.co],
      });
      const { cpu, wasm: direct } = await onBoth(fn);
      const limit = directFilterGrad.maxChannels;
      directFilterGrad.maxChannels = 0;
      try {
        const { wasm: im2col } = await onBoth(fn);
        expect(relError(direct, cpu)).toBeLessThan(TOL);
        expect(relError(im2col, cpu)).toBeLessThan(TOL);
      } finally {
        directFilterGrad.maxChannels = limit;
      }
    }
  });

  it('Conv2DBackpropFilter takes the path measured fastest for each layer', () => {
    const path = (x: Shape4, f: [number, number, number, number], stride: number, pad: Pad) =>
      filterGradPath(x[3], f, backend_util.computeConv2DInfo(x, f, stride, 1, pad as never));
    expect(path([32, 28, 28, 1], [5, 5, 1, 6], 1, 'valid')).toBe('direct'); // LeNet-5 conv2d
    expect(path([32, 12, 12, 6], [5, 5, 6, 16], 1, 'valid')).toBe('direct'); // LeNet-5 conv2d_1
    expect(path([32, 64, 64, 3], [3, 3, 3, 8], 1, 'same')).toBe('direct'); // GAP CNN conv_1 (Winograd would pad Ci)
    expect(path([32, 32, 32, 8], [3, 3, 8, 16], 1, 'same')).toBe('winograd'); // GAP CNN conv_2
    expect(path([1, 224, 224, 3], [3, 3, 3, 64], 1, 'same')).toBe('winograd'); // VGG16's first layer: 64 outputs
    expect(path([32, 65, 65, 3], [3, 3, 3, 16], 2, 'valid')).toBe('direct'); // MobileNetV2 Conv1
    expect(path([32, 16, 16, 16], [5, 5, 16, 32], 1, 'valid')).toBe('im2col');
    expect(path([32, 8, 8, 16], [1, 1, 16, 32], 1, 'valid')).toBe('pointwise');
  });

  it.each(convCases)('Conv2DBackpropInput x=%j', async (c) => {
    const fn = run('Conv2DBackpropInput', { dy: random(convOut(c)), filter: random([...c.f, c.x[3], c.co]) }, {
      strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x,
    });
    // The input gradient's convolution (Winograd where it applies) with each tile size.
    for (const tile of [2, 4] as const) {
      const { cpu, wasm } = await withTile(tile, () => onBoth(fn));
      expect(relError(wasm, cpu)).toBeLessThan(TOL);
    }
  });

  // tfjs's cpu kernels ignore `dilations` here (its depthwise gradient asserts dilation 1), so for d > 1 the
  // reference is the cpu kernel at dilation 1 with the equivalent zero-inserted filter [(fh−1)d+1, (fw−1)d+1].
  it.each(depthwiseCases)('DepthwiseConv2dNativeBackpropFilter x=%j', async (c) => {
    const x = random(c.x);
    const dy = random(depthwiseOut(c));
    const filterShape = [...c.f, c.x[3], c.m];
    await useBackend('wasm');
    const wasm = await tf.tidy(() => run('DepthwiseConv2dNativeBackpropFilter', { x, dy }, {
      strides: c.stride, dilations: c.dilation, pad: c.pad, filterShape,
    })()).data();
    await useBackend('cpu');
    const eff = effectiveShape(filterShape, c.dilation);
    const full = tf.tidy(() => run('DepthwiseConv2dNativeBackpropFilter', { x, dy }, {
      strides: c.stride, dilations: 1, pad: c.pad, filterShape: eff,
    })());
    const cpu = await tf.tidy(() => tf.stridedSlice(full, [0, 0, 0, 0], eff, [c.dilation, c.dilation, 1, 1])).data();
    full.dispose();
    expect(relError(wasm, cpu)).toBeLessThan(TOL);
  });

  it.each(depthwiseCases)('DepthwiseConv2dNativeBackpropInput x=%j', async (c) => {
    const dy = random(depthwiseOut(c));
    const filter = random([...c.f, c.x[3], c.m]);
    await useBackend('wasm');
    const wasm = await tf.tidy(() => run('DepthwiseConv2dNativeBackpropInput', { dy, filter }, {
      strides: c.stride, dilations: c.dilation, pad: c.pad, inputShape: c.x,
    })()).data();
    await useBackend('cpu');
    const cpu = await tf.tidy(() => run('DepthwiseConv2dNativeBackpropInput', { dy, filter: dilateFilter(filter, c.dilation) }, {
      strides: c.stride, dilations: 1, pad: c.pad, inputShape: c.x,
    })()).data();
    expect(relError(wasm, cpu)).toBeLessThan(TOL);
  });

  const poolCases = [
    { x: [1, 6, 6, 1] as Shape4, size: 2, stride: 2, pad: 'valid' as const, zeros: 0 },
    { x: [7, 24, 24, 6] as Shape4, size: 2, stride: 2, pad: 'valid' as const, zeros: 0.5 }, // ReLU output: ties at 0
    { x: [3, 9, 11, 4] as Shape4, size: 3, stride: 2, pad: 'same' as const, zeros: 0 },
    { x: [2, 8, 7, 3] as Shape4, size: 3, stride: 1, pad: 'same' as const, zeros: 0.3 },
    { x: [2, 9, 9, 2] as Shape4, size: 2, stride: 1, pad: 'valid' as const, zeros: 0 },
    { x: [3, 10, 9, 9] as Shape4, size: 3, stride: 1, pad: 'same' as const, zeros: 0.5 }, // 4 + 4 + 1 channels, ties
  ];
  it.each(poolCases)('MaxPoolGrad x=%j', async (c) => {
    const x = random(c.x, c.zeros);
    const output = await (async () => {
      await useBackend('cpu');
      const y = tf.maxPool(t(x) as tf.Tensor4D, c.size, c.stride, c.pad);
      const r = { values: (await y.data()) as Float32Array, shape: y.shape };
      y.dispose();
      return r;
    })();
    const fn = run('MaxPoolGrad', { dy: random(output.shape), input: x, output }, {
      filterSize: c.size, strides: c.stride, pad: c.pad,
    });
    const { cpu, wasm } = await onBoth(fn);
    expect(relError(wasm, cpu)).toBeLessThan(TOL);
  });

  it.each(forwardCases)('FusedConv2D and Conv2D x=%j', async (c) => {
    const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dilations: c.dilation ?? 1 };
    expect(winogradPlan(c.x, [...c.f, c.x[3], c.co], attrs as never) != null && c.act !== 'elu').toBe(c.winograd);
    const x = random(c.x);
    const filter = random([...c.f, c.x[3], c.co]);
    const inputs: Record<string, ReturnType<typeof random>> = c.bias ? { x, filter, bias: random([c.co]) } : { x, filter };
    // F(2x2, 3x3) and F(4x4, 3x3) each (the layer's size picks one of them in a report).
    for (const tile of [2, 4] as const) {
      const fused = await withTile(tile, () => onBoth(run('FusedConv2D', inputs, { ...attrs, activation: c.act })));
      expect(relError(fused.wasm, fused.cpu)).toBeLessThan(TOL);
      if (c.act === 'relu' || c.act === 'relu6') expect(fused.wasm.some((v) => v === 0)).toBe(true);
      const plain = await withTile(tile, () => onBoth(run('Conv2D', { x, filter }, attrs)));
      expect(relError(plain.wasm, plain.cpu)).toBeLessThan(TOL);
    }
  });

  // A convolution and the 2x2 max pooling after it in one kernel: even, odd (a dropped last row / column) and
  // 1-pixel pooled sizes; both tile sizes (an F(4x4) tile holds 4 pooling windows, some past an odd edge).
  const convPoolCases = [
    { x: [2, 8, 8, 16], co: 8, pad: 'same', act: 'relu', bias: true },
    { x: [3, 11, 9, 8], co: 16, pad: 'same', act: 'relu6', bias: true },
    { x: [2, 13, 10, 16], co: 8, pad: 'valid', act: 'linear', bias: false },
    { x: [1, 3, 3, 8], co: 8, pad: 'same', act: 'relu', bias: true },
    { x: [4, 7, 6, 12], co: 24, pad: 'same', act: 'relu', bias: false },
  ] as const;
  it.each(convPoolCases)('ConvlensConvPool2x2 = maxPool(FusedConv2D) on cpu, x=%j', async (c) => {
    const x = random([...c.x], 0);
    const filter = random([3, 3, c.x[3], c.co]);
    const bias = random([c.co]);
    expect(convPoolApplies([...c.x], filter.shape, { pad: c.pad, activation: c.act })).toBe(true);
    await useBackend('cpu');
    const expected = tf.tidy(() => {
      const y = tf.fused.conv2d({ x: t(x) as tf.Tensor4D, filter: t(filter) as tf.Tensor4D, bias: c.bias ? t(bias) : undefined, strides: 1, pad: c.pad, activation: c.act });
      const p = tf.maxPool(y, 2, 2, 'valid');
      return { values: p.dataSync() as Float32Array, shape: p.shape };
    });
    for (const tile of [2, 4] as const) {
      const got = await withTile(tile, async () => {
        await useBackend('wasm');
        return tf.tidy(() => {
          const p = run(CONV_POOL, c.bias ? { x, filter, bias } : { x, filter }, { pad: c.pad, activation: c.act })();
          return { values: p.dataSync() as Float32Array, shape: p.shape };
        });
      });
      expect(got.shape).toEqual(expected.shape);
      expect(relError(got.values, expected.values)).toBeLessThan(TOL);
    }
  });

  it('ConvlensConvPool2x2 pools as the cpu kernel does around a NaN, and refuses shapes it does not apply to', async () => {
    await useBackend('wasm');
    expect(convPoolApplies([2, 8, 8, 3], [3, 3, 3, 8], { pad: 'same', activation: 'relu' })).toBe(false); // 3 channels: XNNPACK's conv
    expect(convPoolApplies([2, 1, 8, 8], [3, 3, 8, 8], { pad: 'same', activation: 'relu' })).toBe(false); // no pooled row
    expect(convPoolApplies([2, 8, 8, 8], [3, 3, 8, 8], { pad: 'same', activation: 'elu' })).toBe(false);
    expect(() => tf.tidy(() => run(CONV_POOL, { x: random([2, 8, 8, 3]), filter: random([3, 3, 3, 8]) }, { pad: 'same', activation: 'relu' })())).toThrow(/does not apply/);
    // A NaN input pixel makes its outputs NaN (linear activation); the pooled windows holding only some NaNs take
    // the largest number, as tfjs's cpu max pooling does.
    const x = random([1, 8, 8, 8]);
    x.values[(3 * 8 + 3) * 8 + 2] = Number.NaN; // row 3, column 3, channel 2
    const filter = random([3, 3, 8, 8]);
    await useBackend('cpu');
    const expected = tf.tidy(() => tf.maxPool(tf.conv2d(t(x) as tf.Tensor4D, t(filter) as tf.Tensor4D, 1, 'same'), 2, 2, 'valid').dataSync() as Float32Array);
    await useBackend('wasm');
    for (const tile of [2, 4] as const) {
      const got = await withTile(tile, async () => tf.tidy(() => run(CONV_POOL, { x, filter }, { pad: 'same', activation: 'linear' })().dataSync() as Float32Array));
      expect(got.some((v) => Number.isNaN(v))).toBe(false);
      if (tile === 4) continue; // F(4x4)'s transforms carry the NaN to more of its tile (see above): more −∞ windows
      const infinite = (a: Float32Array) => [...a].map((v, i) => (v === -Infinity ? i : -1)).filter((i) => i >= 0);
      expect(infinite(got)).toEqual(infinite(expected));
      expect(infinite(expected).length).toBeGreaterThan(0); // the all-NaN windows around the pixel
      const finite = (a: Float32Array) => a.map((v) => (v === -Infinity ? 0 : v));
      expect(relError(finite(got), finite(expected))).toBeLessThan(TOL);
    }
  });

  it('F(4x4, 3x3) where a layer has enough 4x4 tiles: the GAP CNN and 224-pixel layers, not 14x14 one image at a time', () => {
    expect(winogradTile(32, 8, 8)).toBe(4); // GAP CNN's last block at batch 32: 128 tiles
    expect(winogradTile(32, 32, 32)).toBe(4);
    expect(winogradTile(1, 224, 224)).toBe(4);
    expect(winogradTile(1, 28, 28)).toBe(4); // 49 tiles
    expect(winogradTile(1, 14, 14)).toBe(2); // 16 tiles: the transformed filter's 36 points would be read for 16 rows
    expect(winogradTile(4, 7, 7)).toBe(2);
    expect(winogradTile(3, 11, 10)).toBe(2); // 27 tiles
  });

  it.each([2, 4] as const)('Winograd convolutions F(%dx·, 3x3) give the same bits however the tiles are chunked, and pass NaN through', async (tile) => {
    await useBackend('wasm');
    const batch = tile === 2 ? 3 : 12; // 90 2x2 tiles or 108 4x4 tiles
    const x = random([batch, 11, 10, 16]);
    const dy = random([batch, 11, 10, 16]);
    const xNaN = { values: Float32Array.from(x.values), shape: x.shape };
    xNaN.values[5 * 16 + 3] = Number.NaN; // image 0, row 0, column 5, channel 3
    const filter = random([3, 3, 16, 16]);
    const conv = () => tf.tidy(() => run('FusedConv2D', { x: xNaN, filter }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation: 'relu' })().dataSync());
    const filterGrad = () => tf.tidy(() => run('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 16, 16] })().dataSync());
    const whole = await withTile(tile, async () => conv());
    const wholeGrad = filterGrad();
    const budget = winogradBudget.floats;
    winogradBudget.floats = 1; // 32 tiles per chunk: 90 or 108 tiles in 3 or 4 chunks, the last one short
    try {
      expect(await withTile(tile, async () => conv())).toEqual(whole);
      expect(filterGrad()).toEqual(wholeGrad);
    } finally {
      winogradBudget.floats = budget;
    }
    const nan = new Set([...whole].map((v, i) => (Number.isNaN(v) ? i : -1)).filter((i) => i >= 0));
    const at = (oy: number, ox: number, co: number) => (oy * 10 + ox) * 16 + co;
    // Every output whose 3x3 window holds the NaN is NaN (rows 0–1, columns 4–6).
    for (let oy = 0; oy <= 1; oy++) for (let ox = 4; ox <= 6; ox++) for (let co = 0; co < 16; co++) expect(nan.has(at(oy, ox, co))).toBe(true);
    if (tile === 2) {
      // F(2x2, 3x3)'s transforms spread it no further: exactly those outputs.
      expect(nan.size).toBe(2 * 3 * 16);
    } else {
      // F(4x4, 3x3)'s transforms mix the whole 6x6 block, so the NaN may reach more of the one tile whose input
      // block holds it (rows 0–3, columns 4–7), and nothing outside it.
      for (const i of nan) {
        const [oy, ox] = [Math.floor(i / 160), Math.floor(i / 16) % 10];
        expect(oy <= 3 && ox >= 4 && ox <= 7).toBe(true);
      }
    }
  });

  it('Conv2DBackpropFilter sums im2col chunks when the batch does not fit one buffer', async () => {
    const budget = im2colBudget.floats;
    // Two images per chunk, chunks of 2, 2 and 1: a 3x3 convolution (im2col of x) and a widening 1x1 (dyᵀ).
    for (const [c, perImage] of [
      [{ x: [5, 9, 10, 6], f: [3, 3], co: 4, stride: 1, pad: 'same' }, 9 * 10 * 54],
      [{ x: [5, 6, 7, 3], f: [1, 1], co: 9, stride: 1, pad: 'valid' }, 6 * 7 * 9],
    ] as [ConvCase, number][]) {
      const fn = run('Conv2DBackpropFilter', { x: random(c.x), dy: random(convOut(c)) }, {
        strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: [...c.f, c.x[3], c.co],
      });
      im2colBudget.floats = 2 * perImage;
      try {
        const { cpu, wasm } = await onBoth(fn);
        expect(relError(wasm, cpu)).toBeLessThan(TOL);
      } finally {
        im2colBudget.floats = budget;
      }
    }
  });

  const matMulCases = [
    { a: [5, 7], b: [7, 3], ta: false, tb: false },
    { a: [7, 5], b: [7, 3], ta: true, tb: false },
    { a: [5, 7], b: [3, 7], ta: false, tb: true },
    { a: [7, 5], b: [3, 7], ta: true, tb: true },
    { a: [3, 64, 120], b: [3, 64, 84], ta: true, tb: false },
    { a: [2, 6, 4], b: [1, 5, 4], ta: false, tb: true },
    // A · Bᵀ with ≤ 8 rows: convlens's dot products (rows in fours and alone, k in lanes of 4 and the k % 4 tail).
    ...[1, 4, 5, 8].flatMap((M) => [1, 4, 7, 130].map((K) => ({ a: [M, K], b: [17, K], ta: false, tb: true }))),
    { a: [3, 5, 9], b: [3, 11, 9], ta: false, tb: true },
    { a: [9, 13], b: [6, 13], ta: false, tb: true }, // 9 rows: transpose, then tfjs's product
    { a: [1, 2, 3, 5], b: [2, 1, 4, 5], ta: false, tb: true }, // broadcast batch axes: tfjs's product
    // Transposes by convlens's 16 x 16 tiles, edges cut short.
    { a: [37, 21], b: [37, 5], ta: true, tb: false },
    { a: [2, 19, 33], b: [2, 19, 3], ta: true, tb: false },
    { a: [20, 17], b: [35, 17], ta: false, tb: true },
  ];
  it.each(matMulCases)('BatchMatMul %j', async (c) => {
    const fn = run('BatchMatMul', { a: random(c.a), b: random(c.b) }, { transposeA: c.ta, transposeB: c.tb });
    const { cpu, wasm } = await onBoth(fn);
    expect(relError(wasm, cpu)).toBeLessThan(TOL);
  });

  const tileCases = [
    { shape: [1, 1, 1, 5], reps: [3, 4, 2, 1] }, // BatchNorm's gradient: [C] statistics up to [B, H, W, C]
    { shape: [2, 3], reps: [2, 3] },
    { shape: [4], reps: [5] },
    { shape: [2, 1, 3, 2], reps: [1, 3, 1, 2] },
    { shape: [3, 2, 2], reps: [1, 1, 1] },
  ];
  it.each(tileCases)('Tile %j', async (c) => {
    const { cpu, wasm } = await onBoth(run('Tile', { x: random(c.shape) }, { reps: c.reps }));
    expect(relError(wasm, cpu)).toBe(0);
  });

  const bnCases = [
    { x: [4, 5, 6, 8], offset: true, scale: true },
    { x: [3, 4, 4, 5], offset: true, scale: true }, // one SIMD step and a scalar tail
    { x: [16, 12], offset: false, scale: true }, // a dense head's batch norm
    { x: [2, 3, 3, 3], offset: true, scale: false },
    { x: [2, 7, 7, 6], offset: false, scale: false, paramShape: [1, 1, 1, 6] },
  ];
  it.each(bnCases)('FusedBatchNorm (inference) %j', async (c) => {
    const C = c.x[c.x.length - 1];
    const shape = c.paramShape ?? [C];
    const variance = random(shape);
    variance.values.forEach((v, i) => { variance.values[i] = v * v + 0.01; });
    const inputs: Record<string, { values: Float32Array; shape: number[] }> = { x: random(c.x), mean: random(shape), variance };
    if (c.offset) inputs.offset = random(shape);
    if (c.scale) inputs.scale = random(shape);
    const { cpu, wasm } = await onBoth(run('FusedBatchNorm', inputs, { varianceEpsilon: 1e-3 }));
    expect(relError(wasm, cpu)).toBeLessThan(TOL);
  });

  it('FusedBatchNorm passes infinities and NaNs through as tfjs does', async () => {
    const x = { values: Float32Array.from([Infinity, -Infinity, NaN, 1, 2, 3, 4, 5]), shape: [2, 4] };
    const p = (v: number[]) => ({ values: Float32Array.from(v), shape: [4] });
    const { cpu, wasm } = await onBoth(run('FusedBatchNorm', { x, mean: p([0, 1, 2, 3]), variance: p([1, 2, 3, 4]), offset: p([0, 0, 1, 1]), scale: p([1, -2, 1, 0.5]) }, { varianceEpsilon: 1e-3 }));
    expect([...wasm.slice(0, 3)]).toEqual([...cpu.slice(0, 3)]);
    expect(relError(wasm.slice(3), cpu.slice(3))).toBeLessThan(TOL);
  });

  const gatherCases = [
    { x: [6, 8, 8, 3], indices: [5, 0, 0, 3, 2], axis: 0, batchDims: 0 }, // occlusion: images by sample
    { x: [7, 4, 5], indices: [1, 1, 6], axis: 0, batchDims: 0 }, // short slices
    { x: [3, 9, 4], indices: [8, 0, 2, 2], axis: 1, batchDims: 0 },
    { x: [4, 6], indices: [5, 0, 3], axis: -1, batchDims: 0 }, // slices of one element
    { x: [3, 5, 2], indices: [[4, 0], [1, 1], [2, 3]], axis: 1, batchDims: 1 },
  ];
  it.each(gatherCases)('GatherV2 %j', async (c) => {
    const x = random(c.x);
    const fn = () => tf.gather(t(x), tf.tensor(c.indices, undefined, 'int32'), c.axis, c.batchDims);
    const { cpu, wasm } = await onBoth(fn);
    expect(relError(wasm, cpu)).toBe(0);
  });

  it('GatherV2 keeps int32 and bool values and rejects an index outside the axis', async () => {
    await useBackend('wasm');
    expect(await tf.gather(tf.tensor([[7, -2], [2147483647, 4]], undefined, 'int32'), [1, 0, 1]).array()).toEqual([[2147483647, 4], [7, -2], [2147483647, 4]]);
    expect(await tf.gather(tf.tensor([true, false, true], undefined, 'bool'), [1, 2]).array()).toEqual([0, 1]);
    expect(() => tf.gather(tf.zeros([3, 2]), [0, 3])).toThrow(/index value 3 is not in \[0, 2\]/);
  });

  it('Tile keeps int32 and bool values', async () => {
    await useBackend('wasm');
    const ints = tf.tidy(() => Array.from(tf.tile(tf.tensor2d([[1, -2]], [1, 2], 'int32'), [2, 2]).dataSync()));
    expect(ints).toEqual([1, -2, 1, -2, 1, -2, 1, -2]);
    const bools = tf.tidy(() => Array.from(tf.tile(tf.tensor1d([true, false], 'bool'), [2]).dataSync()));
    expect(bools).toEqual([1, 0, 1, 0]);
  });

  const reduceCases = [
    { shape: [32, 8, 8, 48], axis: [0, 1, 2], keepDims: false }, // BatchNorm statistics
    { shape: [6, 5, 7], axis: [0, 1], keepDims: true },
    { shape: [9, 4], axis: 0, keepDims: false },
    { shape: [3, 4, 5], axis: [-3], keepDims: false },
    { shape: [3, 4, 5], axis: [0, 1, 2], keepDims: false }, // everything
    { shape: [3, 4, 5], axis: [1, 2], keepDims: false }, // trailing: tfjs's kernel
    { shape: [5, 3], axis: [1, 0], keepDims: true },
    { shape: [32, 8, 8, 64], axis: [1, 2], keepDims: false }, // global average pooling: middle axes
    { shape: [2, 3, 5, 7], axis: [-3, -2], keepDims: true },
    { shape: [3, 5, 6, 2], axis: [1], keepDims: false }, // 5 rows: four at a time and a tail
    { shape: [3, 4, 5, 2], axis: [0, 2], keepDims: false }, // not consecutive: tfjs's kernel
  ];
  it('Sum and Mean run on the heap for consecutive axes that are a prefix or keep the last axis', () => {
    expect(isReducibleBlock([0, 1, 2], 4)).toBe(true);
    expect(isReducibleBlock([1, 2], 4)).toBe(true);
    expect(isReducibleBlock([0, 1, 2, 3], 4)).toBe(true);
    expect(isReducibleBlock([2, 3], 4)).toBe(false);
    expect(isReducibleBlock([0, 2], 4)).toBe(false);
    expect(isReducibleBlock([], 4)).toBe(false);
  });
  it.each(reduceCases)('Sum and Mean %j', async (c) => {
    for (const name of ['Sum', 'Mean']) {
      const { cpu, wasm, shape } = await onBoth(run(name, { x: random(c.shape) }, { axis: c.axis, keepDims: c.keepDims }));
      expect(relError(wasm, cpu), name).toBeLessThan(TOL);
      expect(shape.length, name).toBe(c.keepDims ? c.shape.length : c.shape.length - [c.axis].flat().length);
    }
  });

  it('Sum keeps int32 sums exact (tfjs kernel)', async () => {
    await useBackend('wasm');
    expect(tf.tidy(() => tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 0).arraySync())).toEqual([4, 6]);
  });

  it('Identity shares the buffer and survives disposal of its source', async () => {
    await useBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const a = tf.tensor1d([1, 2, 3]);
    const before = backend.numDataIds();
    const b = tf.clone(a);
    expect(backend.numDataIds()).toBe(before); // no copy
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
    expect(backend.numDataIds()).toBe(before - 1);
  });

  const sliceCases = [
    { shape: [4, 9, 9, 6], begin: [0, 0, 0, 0], size: [4, 8, 8, 6] }, // ZeroPadding2D's gradient
    { shape: [4, 9, 9, 6], begin: [1, 1, 1, 0], size: [2, 8, 8, 6] },
    { shape: [3, 5, 7, 80], begin: [0, 1, 2, 3], size: [3, 3, 4, 70] }, // partial innermost axis
    { shape: [6, 100], begin: [2, 0], size: [3, 100] }, // one contiguous run
    { shape: [5, 4, 3], begin: [1, 0, 0], size: [0, 4, 3] }, // empty
    { shape: [7], begin: [2], size: [4] },
  ];
  it.each(sliceCases)('Slice %j', async (c) => {
    const { cpu, wasm, shape } = await onBoth(run('Slice', { x: random(c.shape) }, { begin: c.begin, size: c.size }));
    expect(shape).toEqual(c.size);
    expect(relError(wasm, cpu)).toBe(0);
  });

  it('Slice keeps int32 values', async () => {
    await useBackend('wasm');
    const v = tf.tidy(() => tf.slice(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), [1, 0], [2, 2]).arraySync());
    expect(v).toEqual([[3, 4], [5, 6]]);
  });

  it('covers every registered convlens kernel', () => {
    const tested = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput', 'MaxPoolGrad', 'BatchMatMul', 'Tile', 'Sum', 'Mean', 'Identity', 'Slice',
      'ConvlensMaskGrad', 'ConvlensAdam', 'ConvlensBatchNormTrain', 'ConvlensBatchNormTrainGrad', 'FusedBatchNorm', 'GatherV2',
      'Conv2D', 'FusedConv2D', CONV_POOL]; // fused.test.ts, batch-norm.test.ts
    expect(wasmKernels.map((k) => k.kernelName).sort()).toEqual([...tested].sort());
  });

  it('frees every intermediate (wasm heap tensor count is unchanged)', async () => {
    await useBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const c = convCases[2];
    const d = depthwiseCases[3];
    const w = forwardCases[0];
    const before = backend.numDataIds();
    tf.tidy(() => {
      run('Conv2D', { x: random(w.x), filter: random([...w.f, w.x[3], w.co]) }, { strides: 1, pad: w.pad, dataFormat: 'NHWC', dilations: 1 })();
      run('Conv2DBackpropFilter', { x: random(c.x), dy: random(convOut(c)) }, {
        strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: [...c.f, c.x[3], c.co],
      })();
      run('DepthwiseConv2dNativeBackpropInput', { dy: random(depthwiseOut(d)), filter: random([...d.f, d.x[3], d.m]) },
        { strides: d.stride, dilations: d.dilation, pad: d.pad, inputShape: d.x })();
      run(CONV_POOL, { x: random([12, 8, 8, 16]), filter: random([3, 3, 16, 8]) }, { pad: 'same', activation: 'relu' })(); // F(4x4)
      run(CONV_POOL, { x: random([1, 8, 8, 16]), filter: random([3, 3, 16, 8]) }, { pad: 'same', activation: 'relu' })(); // F(2x2)
    });
    expect(backend.numDataIds()).toBe(before);
  });
});

/** Central finite differences of a scalar function of one tensor, evaluated on the active backend. */
function finiteDifference(f: (x: tf.Tensor) => tf.Scalar, x: Float32Array, shape: number[], h: number): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const plus = Float32Array.from(x);
    const minus = Float32Array.from(x);
    plus[i] += h;
    minus[i] -= h;
    const fp = tf.tidy(() => f(tf.tensor(plus, shape)).dataSync()[0]);
    const fm = tf.tidy(() => f(tf.tensor(minus, shape)).dataSync()[0]);
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

describe('wasm gradients agree with finite differences', () => {
  const x = random([2, 6, 6, 2]);
  const w = random([3, 3, 2, 3]);
  const wd = random([3, 3, 2, 2]);
  const b = random([5, 3]);
  // Distinct values at least 0.02 apart, so finite differences never cross a tie inside a pooling window.
  const rand = mulberry32(99);
  const spaced = { values: Float32Array.from(x.values.map((_, i) => i * 0.02 - 0.7)).sort(() => rand() - 0.5), shape: x.shape };
  const cases: Array<{ name: string; arg: { values: Float32Array; shape: number[] }; f: (v: tf.Tensor) => tf.Tensor }> = [
    { name: 'conv2d wrt filter (stride 2, same)', arg: w, f: (v) => tf.conv2d(t(x) as tf.Tensor4D, v as tf.Tensor4D, 2, 'same') },
    { name: 'conv2d wrt input (stride 1, valid)', arg: x, f: (v) => tf.conv2d(v as tf.Tensor4D, t(w) as tf.Tensor4D, 1, 'valid') },
    { name: 'depthwise wrt filter (stride 2, same)', arg: wd, f: (v) => tf.depthwiseConv2d(t(x) as tf.Tensor4D, v as tf.Tensor4D, 2, 'same') },
    { name: 'depthwise wrt input (stride 1, same)', arg: x, f: (v) => tf.depthwiseConv2d(v as tf.Tensor4D, t(wd) as tf.Tensor4D, 1, 'same') },
    { name: 'maxPool wrt input (3x3, stride 2, same)', arg: spaced, f: (v) => tf.maxPool(v as tf.Tensor4D, 3, 2, 'same') },
    { name: 'matMul wrt a', arg: random([4, 5]), f: (v) => tf.matMul(v as tf.Tensor2D, t(b) as tf.Tensor2D) },
  ];
  it.each(cases)('$name', async ({ arg, f }) => {
    await useBackend('wasm');
    const weights = tf.tidy(() => tf.randomUniform(f(t(arg)).shape, -1, 1, 'float32', 7));
    const loss = (v: tf.Tensor) => tf.sum(tf.mul(f(v), weights)) as tf.Scalar;
    const analytic = tf.tidy(() => tf.grad(loss)(t(arg)).dataSync());
    const numeric = finiteDifference(loss, arg.values, arg.shape, 1e-2);
    weights.dispose();
    expect(relError(analytic, numeric)).toBeLessThan(1e-3);
  });
});
