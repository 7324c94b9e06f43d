/**
 * ONNX image classifiers (what `torch.onnx.export` writes) as TensorFlow.js layers models, so every view and method
 * runs on them as on a Keras model. The file is decoded with onnx-proto (the ONNX schema compiled for protobufjs);
 * the graph's nodes, in their topological order, become layers of one functional model in channels-last layout:
 *
 * - Conv → Conv2D (groups 1) or DepthwiseConv2D (one group per channel), filters OIHW → HWIO; pads that are not
 *   TensorFlow's 'same' become a ZeroPadding2D before a 'valid' convolution; strides, dilations, bias.
 * - BatchNormalization → BatchNormalization (inference statistics, epsilon); Relu → ReLU; Clip(0, 6) → ReLU6;
 *   LeakyRelu, Sigmoid, Softmax → their layers; HardSigmoid and HardSwish → convlens layers with ONNX's alpha/beta.
 * - MaxPool, AveragePool (padding as for Conv: zeros, only where they cannot change the result — after a ReLU for
 *   max pooling, count_include_pad for averages), GlobalAveragePool → GlobalAveragePooling2D.
 * - Flatten, and the Shape → Gather → Unsqueeze → Concat → Reshape chain of `x.view(x.size(0), -1)` (evaluated at
 *   conversion: the batch stays symbolic), flatten in ONNX's channel-first order (a Permute first when H·W > 1).
 * - Gemm (and MatMul with an Add of a constant) → Dense; Add, Mul, Concat of two tensors → Add, Multiply,
 *   Concatenate on the channel axis; Pad (constant zeros) → ZeroPadding2D; Dropout, Identity → nothing; Constant.
 *
 * Layers are named after the ONNX nodes ('/layer1/layer1.0/conv1/Conv' → 'layer1.layer1.0.conv1.Conv'). An operator
 * or attribute convlens cannot express is an error naming the node, the operator and what it supports.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { ModelFileError } from './io.ts';

const { onnx } = onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx };
type Node = import('onnx-proto').onnx.INodeProto;
type Tensor = import('onnx-proto').onnx.ITensorProto;
type T = tf.SymbolicTensor;

export class OnnxError extends ModelFileError {}

/** A value during conversion: a symbolic tensor (channels last when `spatial`), or a constant known now. */
type Value =
  | { kind: 'tensor'; t: T; spatial: boolean; nonNegative: boolean }
  | { kind: 'const'; data: Float32Array | number[]; dims: number[] };

/** The batch size in constant shape arithmetic (`x.size(0)`): unknown until run time. */
const BATCH = Number.NaN;

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'object' && v != null && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : Number(v));

/** A TensorProto's values: floats as Float32Array, integers as numbers. */
function tensorValues(t: Tensor, where: string): { data: Float32Array | number[]; dims: number[] } {
  const dims = (t.dims ?? []).map(num);
  const count = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  switch (t.dataType) {
    case onnx.TensorProto.DataType.FLOAT: {
      if (!view) return { data: Float32Array.from(t.floatData ?? []), dims };
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return { data: out, dims };
    }
    case onnx.TensorProto.DataType.DOUBLE: {
      if (!view) return { data: Float32Array.from(t.doubleData ?? []), dims };
      return { data: Float32Array.from({ length: count }, (_, i) => view.getFloat64(i * 8, true)), dims };
    }
    case onnx.TensorProto.DataType.INT64:
      return { data: view ? Array.from({ length: count }, (_, i) => Number(view.getBigInt64(i * 8, true))) : (t.int64Data ?? []).map(num), dims };
    case onnx.TensorProto.DataType.INT32:
      return { data: view ? Array.from({ length: count }, (_, i) => view.getInt32(i * 4, true)) : (t.int32Data ?? []).map(num), dims };
    default:
      if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) throw new OnnxError(`${where}: tensor '${t.name}' is stored in an external data file; export the model as one file (torch.onnx.export without external data)`);
      throw new OnnxError(`${where}: tensor '${t.name}' has ONNX data type ${t.dataType}; convlens reads float32, float64, int64 and int32 tensors`);
  }
}

/** A node's attributes by name (ints, floats, lists, tensors). */
function attributes(node: Node, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of node.attribute ?? []) {
    const T = onnx.AttributeProto.AttributeType;
    if (a.type === T.INT) out[a.name!] = num(a.i);
    else if (a.type === T.FLOAT) out[a.name!] = a.f;
    else if (a.type === T.INTS) out[a.name!] = (a.ints ?? []).map(num);
    else if (a.type === T.FLOATS) out[a.name!] = a.floats;
    else if (a.type === T.STRING) out[a.name!] = new TextDecoder().decode(a.s ?? new Uint8Array());
    else if (a.type === T.TENSOR) out[a.name!] = tensorValues(a.t!, where);
  }
  return out;
}

/** A TensorFlow.js layer name from an ONNX node's: '/layer1/layer1.0/conv1/Conv' → 'layer1.layer1.0.conv1.Conv'. */
function layerName(node: Node, index: number, taken: Set<string>): string {
  const base = (node.name || `${node.opType}_${index}`).replace(/^\/+/, '').replace(/\//g, '.').replace(/[^A-Za-z0-9_.-]/g, '_') || `node_${index}`;
  let name = base;
  for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
  taken.add(name);
  return name;
}

/** OIHW (ONNX) → HWIO (TensorFlow) for a [O, I, kh, kw] filter. */
function hwio(w: Float32Array, [o, i, kh, kw]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = w[((a * i + b) * kh + y) * kw + x];
  return out;
}

/** [rows, cols] → [cols, rows]. */
/** An HWIO kernel of `groups` groups ([kh, kw, i, o], i inputs per group) as one kernel over every input: [kh, kw, i·groups, o]. */
export function blockDiagonal(w: Float32Array, [kh, kw, i, o]: number[], groups: number): Float32Array {
  const C = i * groups;
  const per = o / groups;
  const out = new Float32Array(kh * kw * C * o);
  for (let p = 0; p < kh * kw; p++) {
    for (let j = 0; j < i; j++) {
      for (let f = 0; f < o; f++) out[(p * C + Math.floor(f / per) * i + j) * o + f] = w[(p * i + j) * o + f];
    }
  }
  return out;
}

function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/** ONNX pads [top, left, bottom, right] as TensorFlow padding: 'valid', 'same' (when they equal it), or explicit. */
function padding(pads: number[], kernel: number[], strides: number[], dilations: number[], size: number[]): 'valid' | 'same' | [[number, number], [number, number]] {
  const [t, l, b, r] = pads.length === 4 ? pads : [0, 0, 0, 0];
  if (t === 0 && l === 0 && b === 0 && r === 0) return 'valid';
  // TensorFlow's 'same': out = ceil(in / stride), the total padding split with the extra pixel at the bottom/right.
  const same = [0, 1].every((d) => {
    const k = (kernel[d] - 1) * dilations[d] + 1;
    const out = Math.ceil(size[d] / strides[d]);
    const total = Math.max((out - 1) * strides[d] + k - size[d], 0);
    const [before, after] = d === 0 ? [t, b] : [l, r];
    return before === Math.floor(total / 2) && after === total - Math.floor(total / 2);
  });
  return same ? 'same' : [[t, b], [l, r]];
}

/** HardSigmoid: max(0, min(1, alpha·x + beta)), ONNX's attributes (PyTorch's hardsigmoid: 1/6, 1/2). */
export class OnnxHardSigmoid extends tf.layers.Layer {
  static className = 'ConvlensHardSigmoid';
  readonly alpha: number;
  readonly beta: number;
  readonly swish: boolean;
  constructor(config: { alpha: number; beta: number; swish?: boolean; name?: string }) {
    super(config);
    this.alpha = config.alpha;
    this.beta = config.beta;
    this.swish = config.swish ?? false;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const h = tf.clipByValue(tf.add(tf.mul(x, this.alpha), this.beta), 0, 1);
      return this.swish ? tf.mul(x, h) : h;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), alpha: this.alpha, beta: this.beta, swish: this.swish };
  }
}
tf.serialization.registerClass(OnnxHardSigmoid);

interface Built {
  layer: tf.layers.Layer;
  weights: tf.Tensor[];
}

/** The converter's state: values by ONNX name, the layers made and their weights (set once the model exists). */
class Converter {
  readonly values = new Map<string, Value>();
  readonly built: Built[] = [];
  readonly names = new Set<string>();
  constructor(readonly file: string) {}

  where(node: Node): string {
    return `${this.file}: node '${node.name || node.output?.[0]}' (${node.opType})`;
  }

  tensor(node: Node, name: string): Extract<Value, { kind: 'tensor' }> {
    const v = this.values.get(name);
    if (!v) throw new OnnxError(`${this.where(node)}: input '${name}' is not computed by any earlier node`);
    if (v.kind !== 'tensor') throw new OnnxError(`${this.where(node)}: input '${name}' is a constant where convlens expects a computed tensor`);
    return v;
  }

  constant(node: Node, name: string): Extract<Value, { kind: 'const' }> {
    const v = this.values.get(name);
    if (!v || v.kind !== 'const') throw new OnnxError(`${this.where(node)}: input '${name}' must be a constant (a weight or a shape known before running) for convlens to convert it`);
    return v;
  }

  apply(layer: tf.layers.Layer, input: T | T[], weights: tf.Tensor[] = []): T {
    this.built.push({ layer, weights });
    return layer.apply(input) as T;
  }

  name(node: Node, index: number, suffix = ''): string {
    return layerName({ ...node, name: `${node.name || `${node.opType}_${index}`}${suffix}` }, index, this.names);
  }
}

const spatialSize = (t: T): [number, number] => [t.shape[1] as number, t.shape[2] as number];

/** What a node's converter reads: the converter, the node, its index, its attributes and its output's name. */
interface Step {
  c: Converter;
  node: Node;
  index: number;
  a: Record<string, unknown>;
  out: string;
}

const inputOf = ({ c, node }: Step) => c.tensor(node, node.input![0]);
const setTensor = ({ c, out }: Step, t: T, spatial: boolean, nonNegative = false) => c.values.set(out, { kind: 'tensor', t, spatial, nonNegative });

/** Constants and the shape arithmetic of `x.view(x.size(0), -1)`, evaluated now (the batch stays symbolic). */
const CONSTANT_OPS: Record<string, (s: Step) => void> = {
  Identity: passThrough,
  Dropout: passThrough,
  Constant({ c, node, a, out }) {
    const v = a.value as { data: Float32Array | number[]; dims: number[] } | undefined;
    if (!v) throw new OnnxError(`${c.where(node)}: only tensor constants are supported`);
    c.values.set(out, { kind: 'const', ...v });
  },
  Shape(s) {
    const x = inputOf(s);
    const [, h, w, ch] = x.t.shape as number[];
    // ONNX's NCHW order, the batch symbolic.
    s.c.values.set(s.out, { kind: 'const', data: x.spatial ? [BATCH, ch, h, w] : [BATCH, ...(x.t.shape.slice(1) as number[])], dims: [x.spatial ? 4 : x.t.shape.length] });
  },
  Gather({ c, node, a, out }) {
    const data = c.constant(node, node.input![0]);
    const idx = c.constant(node, node.input![1]);
    if (((a.axis as number) ?? 0) !== 0 || data.dims.length !== 1) throw new OnnxError(`${c.where(node)}: convlens gathers only from a 1-D constant (a shape)`);
    const picked = Array.from(idx.data).map((i) => (data.data as number[])[i < 0 ? i + data.data.length : i]);
    c.values.set(out, { kind: 'const', data: picked, dims: idx.dims });
  },
  Unsqueeze({ c, node, out }) {
    const v = c.constant(node, node.input![0]);
    c.values.set(out, { kind: 'const', data: Array.from(v.data), dims: [Array.from(v.data).length] });
  },
};

function passThrough({ c, node, out }: Step): void {
  const v = c.values.get(node.input![0]);
  if (v) c.values.set(out, v);
}

/** Element-wise activations: one layer each. */
const ACTIVATION_OPS: Record<string, (s: Step) => void> = {
  Relu(s) {
    setTensor(s, s.c.apply(tf.layers.reLU({ name: s.c.name(s.node, s.index) }), inputOf(s).t), inputOf(s).spatial, true);
  },
  Clip(s) {
    const { c, node, a } = s;
    const lo = node.input![1] ? Number(c.constant(node, node.input![1]).data[0]) : (a.min as number | undefined);
    const hi = node.input![2] ? Number(c.constant(node, node.input![2]).data[0]) : (a.max as number | undefined);
    if (lo !== 0 || (hi !== 6 && hi != null)) throw new OnnxError(`${c.where(node)}: convlens converts Clip(0, 6) (ReLU6) and Clip(0) (ReLU), not Clip(${lo}, ${hi})`);
    setTensor(s, c.apply(tf.layers.reLU({ name: c.name(node, s.index), maxValue: hi ?? undefined }), inputOf(s).t), inputOf(s).spatial, true);
  },
  LeakyRelu(s) {
    setTensor(s, s.c.apply(tf.layers.leakyReLU({ name: s.c.name(s.node, s.index), alpha: (s.a.alpha as number) ?? 0.01 }), inputOf(s).t), inputOf(s).spatial);
  },
  Sigmoid(s) {
    setTensor(s, s.c.apply(tf.layers.activation({ name: s.c.name(s.node, s.index), activation: 'sigmoid' }), inputOf(s).t), inputOf(s).spatial, true);
  },
  HardSigmoid: hard,
  HardSwish: hard,
  Softmax(s) {
    const x = inputOf(s);
    const axis = s.a.axis as number | undefined;
    if (x.spatial || (axis != null && axis !== 1 && axis !== -1)) throw new OnnxError(`${s.c.where(s.node)}: convlens converts a softmax over the classes of a [batch, classes] output only`);
    setTensor(s, s.c.apply(tf.layers.activation({ name: s.c.name(s.node, s.index), activation: 'softmax' }), x.t), false, true);
  },
};

function hard(s: Step): void {
  const swish = s.node.opType === 'HardSwish';
  const alpha = swish ? 1 / 6 : ((s.a.alpha as number) ?? 0.2);
  const beta = swish ? 0.5 : ((s.a.beta as number) ?? 0.5);
  setTensor(s, s.c.apply(new OnnxHardSigmoid({ name: s.c.name(s.node, s.index), alpha, beta, swish }), inputOf(s).t), inputOf(s).spatial, !swish);
}

/** Layers with weights, pooling, reshaping and merging. */
const LAYER_OPS: Record<string, (s: Step) => void> = {
  Conv: (s) => conv(s.c, s.node, s.index, s.a, s.out),
  BatchNormalization(s) {
    const { c, node, a } = s;
    const x = inputOf(s);
    const [gamma, beta, mean, variance] = node.input!.slice(1, 5).map((n) => c.constant(node, n).data as Float32Array);
    const layer = tf.layers.batchNormalization({ name: c.name(node, s.index), axis: -1, epsilon: (a.epsilon as number) ?? 1e-5 });
    setTensor(s, c.apply(layer, x.t, [gamma, beta, mean, variance].map((d) => tf.tensor1d(d))), x.spatial);
  },
  MaxPool: (s) => pool(s.c, s.node, s.index, s.a, s.out),
  AveragePool: (s) => pool(s.c, s.node, s.index, s.a, s.out),
  GlobalAveragePool(s) {
    const x = inputOf(s);
    // [N, C] here stands for ONNX's [N, C, 1, 1]: the Flatten or Reshape after it changes nothing.
    setTensor(s, s.c.apply(tf.layers.globalAveragePooling2d({ name: s.c.name(s.node, s.index) }), x.t), false, x.nonNegative);
  },
  Flatten: (s) => flatten(s.c, s.node, s.index, s.out, (s.a.axis as number) ?? 1),
  Reshape(s) {
    const { c, node } = s;
    const shape = Array.from(c.constant(node, node.input![1]).data) as number[];
    const total = (inputOf(s).t.shape.slice(1) as number[]).reduce((p, q) => p * q, 1);
    const batch = Number.isNaN(shape[0]) || shape[0] === 0 || shape[0] === -1 || shape[0] === 1;
    if (shape.length === 2 && batch && (shape[1] === -1 || shape[1] === total)) return flatten(c, node, s.index, s.out, 1);
    throw new OnnxError(`${c.where(node)}: convlens converts a Reshape that flattens to [batch, features] only, not to [${shape.map((d) => (Number.isNaN(d) ? 'batch' : d)).join(', ')}]`);
  },
  Gemm: (s) => gemm(s.c, s.node, s.index, s.a, s.out),
  MatMul(s) {
    const { c, node } = s;
    const x = inputOf(s);
    const w = c.constant(node, node.input![1]);
    if (x.spatial || w.dims.length !== 2) throw new OnnxError(`${c.where(node)}: convlens converts MatMul of a [batch, features] tensor by a 2-D weight only`);
    const [inF, outF] = w.dims;
    const layer = tf.layers.dense({ name: c.name(node, s.index), units: outF, useBias: false });
    setTensor(s, c.apply(layer, x.t, [tf.tensor2d(w.data as Float32Array, [inF, outF])]), false);
  },
  Add: merge,
  Sum: merge,
  Mul: merge,
  Concat(s) {
    const { c, node, a } = s;
    const vs = node.input!.map((n) => c.values.get(n));
    if (vs.every((v) => v?.kind === 'const')) {
      const data = vs.flatMap((v) => Array.from((v as Extract<Value, { kind: 'const' }>).data));
      c.values.set(s.out, { kind: 'const', data, dims: [data.length] });
      return;
    }
    const ts = node.input!.map((n) => c.tensor(node, n));
    const axis = a.axis as number;
    if (!(ts.every((t) => t.spatial) && (axis === 1 || axis === -3)) && !(ts.every((t) => !t.spatial) && (axis === 1 || axis === -1))) {
      throw new OnnxError(`${c.where(node)}: convlens concatenates along the channel axis only (axis ${axis})`);
    }
    setTensor(s, c.apply(tf.layers.concatenate({ name: c.name(node, s.index), axis: -1 }), ts.map((t) => t.t)), ts[0].spatial, ts.every((t) => t.nonNegative));
  },
  Pad(s) {
    const { c, node, a } = s;
    const x = inputOf(s);
    const pads = (node.input![1] ? Array.from(c.constant(node, node.input![1]).data) : (a.pads as number[])) as number[];
    const mode = (a.mode as string) ?? 'constant';
    const value = node.input![2] ? Number(c.constant(node, node.input![2]).data[0]) : ((a.value as number) ?? 0);
    // NCHW pads: [n0, c0, h0, w0, n1, c1, h1, w1].
    if (!x.spatial || mode !== 'constant' || value !== 0 || pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5]) {
      throw new OnnxError(`${c.where(node)}: convlens converts zero padding of the height and width only`);
    }
    const layer = tf.layers.zeroPadding2d({ name: c.name(node, s.index), padding: [[pads[2], pads[6]], [pads[3], pads[7]]] });
    setTensor(s, c.apply(layer, x.t), true, x.nonNegative);
  },
};

/** Add, Sum, Mul of computed tensors (one layer), or with a constant (a MatMul's bias). */
function merge(s: Step): void {
  const { c, node } = s;
  const op = node.opType!;
  if (node.input!.some((n) => c.values.get(n)?.kind === 'const')) return addConstant(c, node, s.index, s.out, op);
  const ts = node.input!.map((n) => c.tensor(node, n));
  const layer = op === 'Mul' ? tf.layers.multiply({ name: c.name(node, s.index) }) : tf.layers.add({ name: c.name(node, s.index) });
  setTensor(s, c.apply(layer, ts.map((t) => t.t)), ts[0].spatial, op !== 'Mul' && ts.every((t) => t.nonNegative));
}

const OPS: Record<string, (s: Step) => void> = { ...LAYER_OPS, ...ACTIVATION_OPS, ...CONSTANT_OPS };

function convert(c: Converter, node: Node, index: number): void {
  const op = node.opType ?? '';
  const handler = Object.hasOwn(OPS, op) ? OPS[op] : undefined;
  if (!handler) {
    throw new OnnxError(`${c.where(node)}: convlens does not convert the ONNX operator ${op}; it converts ${Object.keys(OPS).join(', ')}`);
  }
  handler({ c, node, index, a: attributes(node, c.where(node)), out: node.output?.[0] ?? '' });
}

function conv(c: Converter, node: Node, index: number, a: Record<string, unknown>, out: string): void {
  const x = c.tensor(node, node.input![0]);
  const w = c.constant(node, node.input![1]);
  const bias = node.input![2] ? (c.constant(node, node.input![2]).data as Float32Array) : undefined;
  const [o, i, kh, kw] = w.dims;
  if (w.dims.length !== 4) throw new OnnxError(`${c.where(node)}: convlens converts 2-D convolutions only (filter of rank ${w.dims.length})`);
  const group = (a.group as number) ?? 1;
  const strides = (a.strides as number[]) ?? [1, 1];
  const dilations = (a.dilations as number[]) ?? [1, 1];
  if (a.auto_pad && a.auto_pad !== 'NOTSET') throw new OnnxError(`${c.where(node)}: auto_pad ${a.auto_pad} is not supported; export with explicit pads`);
  const channels = x.t.shape[3] as number;
  const depthwise = group > 1 && group === channels && i === 1;
  if (group > 1 && !depthwise && (channels !== group * i || o % group !== 0)) {
    throw new OnnxError(`${c.where(node)}: ${group} groups of ${i} input channels do not match the input's ${channels} channels and ${o} filters`);
  }
  let t = x.t;
  const pad = padding((a.pads as number[]) ?? [0, 0, 0, 0], [kh, kw], strides, dilations, spatialSize(t));
  if (Array.isArray(pad)) t = c.apply(tf.layers.zeroPadding2d({ name: c.name(node, index, '_pad'), padding: pad }), t);
  const common = { name: c.name(node, index), kernelSize: [kh, kw] as [number, number], strides: strides as [number, number], dilationRate: dilations as [number, number], padding: (pad === 'same' ? 'same' : 'valid') as 'same' | 'valid', useBias: bias != null };
  const weights: tf.Tensor[] = [];
  let layer: tf.layers.Layer;
  if (depthwise) {
    // [C·m, 1, kh, kw] → [kh, kw, C, m] with m = o / C.
    const m = o / channels;
    layer = tf.layers.depthwiseConv2d({ ...common, depthMultiplier: m });
    weights.push(tf.tensor4d(hwio(w.data as Float32Array, [o, 1, kh, kw]), [kh, kw, 1, o]).reshape([kh, kw, channels, m]));
  } else if (group > 1) {
    // A grouped convolution (ResNeXt, ShuffleNet) as one Conv2D with a block-diagonal kernel: filter f of group g
    // reads input channels g·i … g·i + i − 1 and has zeros elsewhere, which adds nothing (exactly) to its sums.
    layer = tf.layers.conv2d({ ...common, filters: o });
    weights.push(tf.tensor4d(blockDiagonal(hwio(w.data as Float32Array, w.dims), [kh, kw, i, o], group), [kh, kw, channels, o]));
  } else {
    layer = tf.layers.conv2d({ ...common, filters: o });
    weights.push(tf.tensor4d(hwio(w.data as Float32Array, w.dims), [kh, kw, i, o]));
  }
  if (bias) weights.push(tf.tensor1d(bias));
  c.values.set(out, { kind: 'tensor', t: c.apply(layer, t, weights), spatial: true, nonNegative: false });
}

function pool(c: Converter, node: Node, index: number, a: Record<string, unknown>, out: string): void {
  const x = c.tensor(node, node.input![0]);
  const max = node.opType === 'MaxPool';
  const kernel = a.kernel_shape as number[];
  const strides = (a.strides as number[]) ?? [1, 1];
  if ((a.ceil_mode as number) === 1) throw new OnnxError(`${c.where(node)}: ceil_mode=1 pooling is not supported; use ceil_mode=False`);
  if (a.dilations && (a.dilations as number[]).some((d) => d !== 1)) throw new OnnxError(`${c.where(node)}: dilated pooling is not supported`);
  let t = x.t;
  const pads = (a.pads as number[]) ?? [0, 0, 0, 0];
  const pad = padding(pads, kernel, strides, [1, 1], spatialSize(t));
  // TensorFlow's 'same' pooling leaves the padding out of the window (a max over the real pixels, an average over
  // them): ONNX's padded max, and its average with count_include_pad=0. Zeros in the window are exact for a max of
  // non-negative values (after a ReLU) and for an average that counts the padding.
  let mode: 'valid' | 'same' = 'valid';
  if (pad !== 'valid') {
    const countPad = (a.count_include_pad as number) === 1;
    if (pad === 'same' && (max || !countPad)) mode = 'same';
    else if (max ? x.nonNegative : countPad) {
      t = c.apply(tf.layers.zeroPadding2d({ name: c.name(node, index, '_pad'), padding: [[pads[0], pads[2]], [pads[1], pads[3]]] }), t);
    } else {
      throw new OnnxError(`${c.where(node)}: this padding of ${node.opType} ${max ? 'over values that can be negative' : 'with count_include_pad=0'} has no TensorFlow.js equivalent; pad in the model (nn.ZeroPad2d) or use symmetric 'same'-style padding`);
    }
  }
  const config = { name: c.name(node, index), poolSize: kernel as [number, number], strides: strides as [number, number], padding: mode };
  const layer = max ? tf.layers.maxPooling2d(config) : tf.layers.averagePooling2d(config);
  c.values.set(out, { kind: 'tensor', t: c.apply(layer, t), spatial: true, nonNegative: x.nonNegative });
}

function flatten(c: Converter, node: Node, index: number, out: string, axis: number): void {
  const x = c.tensor(node, node.input![0]);
  if (axis !== 1) throw new OnnxError(`${c.where(node)}: convlens flattens to [batch, features] only (axis 1, not ${axis})`);
  if (!x.spatial) {
    c.values.set(out, x);
    return;
  }
  let t = x.t;
  const [h, w] = spatialSize(t);
  // ONNX flattens C, H, W in that order; channels last would give H, W, C.
  if (h * w > 1) t = c.apply(tf.layers.permute({ name: c.name(node, index, '_nchw'), dims: [3, 1, 2] }), t);
  c.values.set(out, { kind: 'tensor', t: c.apply(tf.layers.flatten({ name: c.name(node, index) }), t), spatial: false, nonNegative: x.nonNegative });
}

function gemm(c: Converter, node: Node, index: number, a: Record<string, unknown>, out: string): void {
  const x = c.tensor(node, node.input![0]);
  const w = c.constant(node, node.input![1]);
  if (x.spatial || (a.transA as number)) throw new OnnxError(`${c.where(node)}: convlens converts Gemm of a [batch, features] input (transA = 0) only`);
  const alpha = (a.alpha as number) ?? 1;
  const beta = (a.beta as number) ?? 1;
  const transB = (a.transB as number) === 1;
  const [r, k] = w.dims;
  const kernel = transB ? transpose2d(w.data as Float32Array, r, k) : (w.data as Float32Array);
  const [inF, outF] = transB ? [k, r] : [r, k];
  const scaled = alpha === 1 ? kernel : kernel.map((v) => v * alpha);
  const bias = node.input![2] ? (c.constant(node, node.input![2]).data as Float32Array) : undefined;
  if (bias && bias.length !== outF) throw new OnnxError(`${c.where(node)}: a bias of ${bias.length} values for ${outF} outputs (only a per-output bias is supported)`);
  const layer = tf.layers.dense({ name: c.name(node, index), units: outF, useBias: bias != null });
  const weights = [tf.tensor2d(scaled, [inF, outF]), ...(bias ? [tf.tensor1d(beta === 1 ? bias : bias.map((v) => v * beta))] : [])];
  c.values.set(out, { kind: 'tensor', t: c.apply(layer, x.t, weights), spatial: false, nonNegative: false });
}

/** x + b or x · s with a constant per-channel b or s: a bias after MatMul goes into its Dense layer. */
function addConstant(c: Converter, node: Node, index: number, out: string, op: string): void {
  const [p, q] = node.input!;
  const tensorName = c.values.get(p)?.kind === 'tensor' ? p : q;
  const x = c.tensor(node, tensorName);
  const k = c.constant(node, tensorName === p ? q : p);
  const last = c.built.at(-1);
  const dense = last && last.layer.getClassName() === 'Dense' && last.weights.length === 1 && (last.layer.output as T) === x.t;
  if (op === 'Add' && dense && !x.spatial && k.data.length === (x.t.shape[1] as number)) {
    // MatMul then Add: rebuild the Dense with its bias (the last layer made, not yet connected anywhere else).
    const config = { ...(last.layer.getConfig() as object), useBias: true } as Parameters<typeof tf.layers.dense>[0];
    const withBias = tf.layers.dense({ ...config, name: `${config!.name}_bias` });
    c.built.pop();
    const input = (last.layer.input as T);
    const t = c.apply(withBias, input, [last.weights[0], tf.tensor1d(k.data as Float32Array)]);
    c.values.set(out, { kind: 'tensor', t, spatial: false, nonNegative: false });
    return;
  }
  throw new OnnxError(`${c.where(node)}: ${op} with a constant is supported only as the bias after a MatMul`);
}

/** The ONNX model at `path` as a TensorFlow.js layers model (channels last; see above). */
export function loadOnnx(path: string): tf.LayersModel {
  const file = resolve(path);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new OnnxError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code})`);
  }
  let model;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new OnnxError(`${file}: not an ONNX model (${(err as Error).message}); export it with torch.onnx.export`);
  }
  const graph = model.graph;
  if (!graph) throw new OnnxError(`${file}: an ONNX file without a graph`);
  const c = new Converter(file);
  for (const init of graph.initializer ?? []) c.values.set(init.name!, { kind: 'const', ...tensorValues(init, `${file}: initializer`) });
  const inputs = (graph.input ?? []).filter((i) => !c.values.has(i.name!));
  if (inputs.length !== 1) throw new OnnxError(`${file}: ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); convlens explains models with one image input`);
  const dims = (inputs[0].type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : null));
  const [, ch, h, w] = dims;
  if (dims.length !== 4 || !ch || !h || !w || (ch !== 1 && ch !== 3)) {
    throw new OnnxError(`${file}: input '${inputs[0].name}' has shape [${dims.map((d) => d ?? '?').join(', ')}]; convlens needs an image [batch, 1 or 3, height, width] with fixed height and width`);
  }
  const input = tf.input({ shape: [h, w, ch], name: 'input' });
  c.values.set(inputs[0].name!, { kind: 'tensor', t: input, spatial: true, nonNegative: false });
  (graph.node ?? []).forEach((node, i) => convert(c, node, i));
  const outputs = graph.output ?? [];
  if (outputs.length !== 1) throw new OnnxError(`${file}: ${outputs.length} outputs; convlens explains classifiers with one output`);
  const result = c.values.get(outputs[0].name!);
  if (!result || result.kind !== 'tensor' || result.spatial) throw new OnnxError(`${file}: the output '${outputs[0].name}' is not a [batch, classes] tensor`);
  const tfModel = tf.model({ inputs: input, outputs: result.t, name: (graph.name || 'onnx_model').replace(/[^A-Za-z0-9_]/g, '_') });
  for (const { layer, weights } of c.built) {
    if (weights.length) layer.setWeights(weights);
    tf.dispose(weights);
  }
  return tfModel;
}
