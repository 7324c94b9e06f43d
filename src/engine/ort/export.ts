/**
 * A tfjs LayersModel written as an ONNX graph, so ONNX Runtime (ort/runtime.ts) can run its forward passes. Every
 * model convlens loads — Keras, tfjs layers and graph models, ONNX, Teachable Machine, the built-in ones — is a
 * LayersModel of channels-last layers; the graph keeps ONNX's channels-first layout inside (what ONNX Runtime's
 * convolution kernels take) with one Transpose after the NHWC input and one before each Flatten/Reshape, so the
 * outputs are the model's own. Weights are the layers' current values (batch normalization stays a
 * BatchNormalization node: ONNX Runtime folds it into the convolution before it, as engine/folded.ts does).
 *
 * Layers it does not know return an `Unsupported` naming the layer; the caller then runs the model on the tfjs
 * engine. Tested against `model.predict` for each layer kind (test/engine/ort.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx };
type NodeProto = import('onnx-proto').onnx.INodeProto;
type TensorProto = import('onnx-proto').onnx.ITensorProto;
type AttributeProto = import('onnx-proto').onnx.IAttributeProto;
type Layer = tf.layers.Layer;

export const OPSET = 18;

export class Unsupported extends Error {
  constructor(readonly layer: string, readonly what: string) {
    super(`layer '${layer}': ${what}`);
  }
}

/** The graph's value for one layer output: its name in the graph and its rank (4: stored NCHW). */
interface Value {
  name: string;
  rank: number;
}

type Attr = number | number[] | string;

function attribute(name: string, v: Attr): AttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  return Number.isInteger(v) && !name.startsWith('f:') ? { name, type: A.INT, i: v } : { name: name.replace(/^f:/, ''), type: A.FLOAT, f: v };
}

const pair = (v: number | number[] | undefined, d: number): [number, number] => (v == null ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1] ?? v[0]]);

/** Keras's SELU constants. */
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private count = 0;

  fresh(base: string): string {
    return `${base}__${this.count++}`;
  }

  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, output?: string): string {
    const out = output ?? this.fresh(op.toLowerCase());
    this.nodes.push({ opType: op, input: inputs, output: [out], name: out, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return out;
  }

  floats(base: string, data: Float32Array | number[], dims: number[]): string {
    const name = this.fresh(base);
    const f = data instanceof Float32Array ? data : Float32Array.from(data);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength)) });
    return name;
  }

  ints(base: string, data: number[]): string {
    const name = this.fresh(base);
    const v = BigInt64Array.from(data.map((x) => BigInt(x)));
    this.initializers.push({ name, dims: [data.length], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(v.buffer) });
    return name;
  }
}

/** [kh, kw, ci, co] (tfjs) → [co, ci, kh, kw] (ONNX). */
function convWeight(w: Float32Array, [kh, kw, ci, co]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) {
    out[((o * ci + i) * kh + y) * kw + x] = w[((y * kw + x) * ci + i) * co + o];
  }
  return out;
}

/** [kh, kw, ci, m] (tfjs depthwise) → [ci·m, 1, kh, kw] (ONNX, group = ci): output channel i·m + j. */
function depthwiseWeight(w: Float32Array, [kh, kw, ci, m]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let j = 0; j < m; j++) {
    out[((i * m + j) * kh + y) * kw + x] = w[((y * kw + x) * ci + i) * m + j];
  }
  return out;
}

const data = (t: tf.Tensor) => t.dataSync() as Float32Array;

/** An activation by its Keras name applied to `x`, or Unsupported. */
function activation(g: GraphBuilder, layer: Layer, name: string | undefined, x: Value): Value {
  const v = (s: string): Value => ({ name: s, rank: x.rank });
  const axis = x.rank === 4 ? 1 : -1; // channels of an NCHW value
  switch (name ?? 'linear') {
    case 'linear': return x;
    case 'relu': return v(g.node('Relu', [x.name]));
    case 'relu6': return v(g.node('Clip', [x.name, g.floats('zero', [0], []), g.floats('six', [6], [])]));
    case 'sigmoid': return v(g.node('Sigmoid', [x.name]));
    case 'tanh': return v(g.node('Tanh', [x.name]));
    case 'softmax': return v(g.node('Softmax', [x.name], { axis }));
    case 'elu': return v(g.node('Elu', [x.name], { 'f:alpha': 1.0 }));
    case 'selu': return v(g.node('Selu', [x.name], { 'f:alpha': SELU_ALPHA, 'f:gamma': SELU_SCALE }));
    case 'softplus': return v(g.node('Softplus', [x.name]));
    case 'softsign': return v(g.node('Softsign', [x.name]));
    case 'hardSigmoid': case 'hard_sigmoid': return v(g.node('HardSigmoid', [x.name], { 'f:alpha': 0.2, 'f:beta': 0.5 }));
    case 'swish': case 'silu': return v(g.node('Mul', [x.name, g.node('Sigmoid', [x.name])]));
    case 'mish': return v(g.node('Mul', [x.name, g.node('Tanh', [g.node('Softplus', [x.name])])]));
    case 'gelu': {
      // x · ½(1 + erf(x / √2)), tfjs's and Keras's exact form.
      const erf = g.node('Erf', [g.node('Div', [x.name, g.floats('sqrt2', [Math.SQRT2], [])])]);
      return v(g.node('Mul', [x.name, g.node('Mul', [g.node('Add', [erf, g.floats('one', [1], [])]), g.floats('half', [0.5], [])])]));
    }
    default: throw new Unsupported(layer.name, `activation '${name}'`);
  }
}

/** NCHW → NHWC (rank 4), what Keras's Flatten and Reshape read. */
function toChannelsLast(g: GraphBuilder, x: Value): string {
  return x.rank === 4 ? g.node('Transpose', [x.name], { perm: [0, 2, 3, 1] }) : x.name;
}

/** Explicit ONNX pads [top, left, bottom, right] for TensorFlow's 'same' at a known input size. */
function samePads(size: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number]): number[] {
  const before: number[] = [];
  const after: number[] = [];
  for (let d = 0; d < 2; d++) {
    const k = (kernel[d] - 1) * dilations[d] + 1;
    const out = Math.ceil(size[d] / strides[d]);
    const total = Math.max((out - 1) * strides[d] + k - size[d], 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [...before, ...after];
}

function spatialInput(layer: Layer): [number, number] {
  const s = layer.inboundNodes[0].inputShapes as (number | null)[];
  const shape = (Array.isArray(s[0]) ? s[0] : s) as (number | null)[];
  if (shape.length !== 4 || shape[1] == null || shape[2] == null) throw new Unsupported(layer.name, 'an input of unknown height or width');
  return [shape[1], shape[2]];
}

function padsOf(layer: Layer, padding: string | undefined, kernel: [number, number], strides: [number, number], dilations: [number, number]): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') return samePads(spatialInput(layer), kernel, strides, dilations);
  throw new Unsupported(layer.name, `padding '${padding}'`);
}

function channelsLast(layer: Layer): void {
  const df = (layer.getConfig() as { dataFormat?: string }).dataFormat;
  if (df != null && df !== 'channelsLast') throw new Unsupported(layer.name, `data format '${df}'`);
}

interface ConvConfig {
  kernelSize: number | number[];
  strides?: number | number[];
  padding?: string;
  dilationRate?: number | number[];
  activation?: string;
  useBias?: boolean;
  depthMultiplier?: number;
}

function convNode(g: GraphBuilder, layer: Layer, x: Value, weight: string, bias: string | undefined, group: number, cfg: ConvConfig, kernel: [number, number]): string {
  const strides = pair(cfg.strides, 1);
  const dilations = pair(cfg.dilationRate, 1);
  const pads = padsOf(layer, cfg.padding, kernel, strides, dilations);
  return g.node('Conv', bias ? [x.name, weight, bias] : [x.name, weight], { kernel_shape: kernel, strides, dilations, pads, group });
}

/** One layer's node(s) from its input values. */
function exportLayer(g: GraphBuilder, layer: Layer, inputs: Value[]): Value {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Record<string, unknown>;
  const x = inputs[0];
  const weights = layer.getWeights();
  const v4 = (s: string): Value => ({ name: s, rank: 4 });
  switch (cls) {
    case 'Dropout': case 'SpatialDropout2D': case 'GaussianNoise': case 'GaussianDropout': case 'AlphaDropout': case 'ActivityRegularization':
      return x;
    case 'Conv2D': {
      channelsLast(layer);
      const c = cfg as unknown as ConvConfig;
      const k = weights[0];
      const [kh, kw] = k.shape as number[];
      const w = g.floats(`${layer.name}_W`, convWeight(data(k), k.shape), [k.shape[3]!, k.shape[2]!, kh, kw]);
      const b = c.useBias !== false && weights[1] ? g.floats(`${layer.name}_B`, data(weights[1]), [weights[1].size]) : undefined;
      return activation(g, layer, c.activation, v4(convNode(g, layer, x, w, b, 1, c, [kh, kw])));
    }
    case 'DepthwiseConv2D': {
      channelsLast(layer);
      const c = cfg as unknown as ConvConfig;
      const k = weights[0];
      const [kh, kw, ci, m] = k.shape as number[];
      const w = g.floats(`${layer.name}_W`, depthwiseWeight(data(k), k.shape), [ci * m, 1, kh, kw]);
      const b = c.useBias !== false && weights[1] ? g.floats(`${layer.name}_B`, data(weights[1]), [weights[1].size]) : undefined;
      return activation(g, layer, c.activation, v4(convNode(g, layer, x, w, b, ci, c, [kh, kw])));
    }
    case 'SeparableConv2D': {
      channelsLast(layer);
      const c = cfg as unknown as ConvConfig;
      const [dk, pk, bias] = weights;
      const [kh, kw, ci, m] = dk.shape as number[];
      const dw = g.floats(`${layer.name}_DW`, depthwiseWeight(data(dk), dk.shape), [ci * m, 1, kh, kw]);
      const mid = convNode(g, layer, x, dw, undefined, ci, c, [kh, kw]);
      const pw = g.floats(`${layer.name}_PW`, convWeight(data(pk), pk.shape), [pk.shape[3]!, pk.shape[2]!, 1, 1]);
      const b = c.useBias !== false && bias ? g.floats(`${layer.name}_B`, data(bias), [bias.size]) : undefined;
      const out = g.node('Conv', b ? [mid, pw, b] : [mid, pw], { kernel_shape: [1, 1] });
      return activation(g, layer, c.activation, v4(out));
    }
    case 'Dense': {
      if (x.rank !== 2) throw new Unsupported(layer.name, 'a Dense layer on a rank-' + x.rank + ' input');
      const c = cfg as { activation?: string; useBias?: boolean };
      const k = weights[0];
      const w = g.floats(`${layer.name}_W`, data(k), k.shape);
      const b = c.useBias !== false && weights[1] ? g.floats(`${layer.name}_B`, data(weights[1]), [weights[1].size]) : undefined;
      const out = g.node('Gemm', b ? [x.name, w, b] : [x.name, w]);
      return activation(g, layer, c.activation, { name: out, rank: 2 });
    }
    case 'BatchNormalization': {
      const c = cfg as { axis?: number | number[]; epsilon: number; center?: boolean; scale?: boolean };
      const axis = Array.isArray(c.axis) ? c.axis[0] : c.axis ?? -1;
      if (axis !== -1 && axis !== x.rank - 1) throw new Unsupported(layer.name, `batch normalization over axis ${axis}`);
      const byName = new Map(layer.weights.map((w, i) => [w.originalName.split('/').pop()!, weights[i]]));
      const n = (byName.get('moving_mean') ?? weights[weights.length - 2]).size;
      const get = (key: string, fill: number) => {
        const t = byName.get(key);
        return t ? data(t) : new Float32Array(n).fill(fill);
      };
      const inputs4 = [x.name, g.floats(`${layer.name}_gamma`, get('gamma', 1), [n]), g.floats(`${layer.name}_beta`, get('beta', 0), [n]),
        g.floats(`${layer.name}_mean`, get('moving_mean', 0), [n]), g.floats(`${layer.name}_var`, get('moving_variance', 1), [n])];
      return { name: g.node('BatchNormalization', inputs4, { 'f:epsilon': c.epsilon }), rank: x.rank };
    }
    case 'Activation':
      return activation(g, layer, cfg.activation as string, x);
    case 'ReLU': {
      const c = cfg as { maxValue?: number | null; negativeSlope?: number; threshold?: number };
      if ((c.negativeSlope ?? 0) !== 0 || (c.threshold ?? 0) !== 0) throw new Unsupported(layer.name, 'a ReLU with a negative slope or threshold');
      if (c.maxValue == null) return { name: g.node('Relu', [x.name]), rank: x.rank };
      return { name: g.node('Clip', [x.name, g.floats('zero', [0], []), g.floats('max', [c.maxValue], [])]), rank: x.rank };
    }
    case 'LeakyReLU':
      return { name: g.node('LeakyRelu', [x.name], { 'f:alpha': Number(cfg.alpha ?? 0.3) }), rank: x.rank };
    case 'ELU':
      return { name: g.node('Elu', [x.name], { 'f:alpha': Number(cfg.alpha ?? 1) }), rank: x.rank };
    case 'Softmax': {
      const axis = Array.isArray(cfg.axis) ? (cfg.axis as number[])[0] : (cfg.axis as number | undefined) ?? -1;
      if (axis !== -1 && axis !== x.rank - 1) throw new Unsupported(layer.name, `softmax over axis ${axis}`);
      return { name: g.node('Softmax', [x.name], { axis: x.rank === 4 ? 1 : -1 }), rank: x.rank };
    }
    case 'Flatten': {
      const out = g.node('Flatten', [toChannelsLast(g, x)], { axis: 1 });
      return { name: out, rank: 2 };
    }
    case 'Reshape': {
      const target = cfg.targetShape as number[];
      const flat = toChannelsLast(g, x);
      const out = g.node('Reshape', [flat, g.ints('shape', [0, ...target])]);
      const rank = target.length + 1;
      if (rank === 4) return v4(g.node('Transpose', [out], { perm: [0, 3, 1, 2] }));
      return { name: out, rank }; // ranks 2 and 3 stay in Keras's layout
    }
    case 'Permute': {
      // Keras's dims are 1-based over the channels-last axes (the ONNX importer's NCHW flatten order: [3, 1, 2]).
      const dims = cfg.dims as number[];
      const out = g.node('Transpose', [toChannelsLast(g, x)], { perm: [0, ...dims] });
      return dims.length === 3 ? v4(g.node('Transpose', [out], { perm: [0, 3, 1, 2] })) : { name: out, rank: dims.length + 1 };
    }
    case 'GlobalAveragePooling2D': case 'GlobalMaxPooling2D': {
      channelsLast(layer);
      const pooled = g.node(cls === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [x.name]);
      if (cfg.keepDims) return v4(pooled);
      return { name: g.node('Flatten', [pooled], { axis: 1 }), rank: 2 };
    }
    case 'MaxPooling2D': case 'AveragePooling2D': {
      channelsLast(layer);
      const c = cfg as { poolSize?: number | number[]; strides?: number | number[] | null; padding?: string };
      const kernel = pair(c.poolSize, 2);
      const strides = c.strides == null ? kernel : pair(c.strides, 1);
      const pads = padsOf(layer, c.padding, kernel, strides, [1, 1]);
      const op = cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool';
      // TensorFlow's average over a 'same' window counts only the pixels inside the image (count_include_pad = 0).
      return v4(g.node(op, [x.name], { kernel_shape: kernel, strides, pads }));
    }
    case 'ZeroPadding2D': {
      channelsLast(layer);
      const p = cfg.padding as number[][];
      const [[t, b], [l, r]] = p;
      // ONNX Runtime merges a Pad into the MaxPool after it as the pool's own padding, which pads with −∞, not 0 —
      // and fails when the merged padding exceeds the window. A Pad with an `axes` input (opset 18) is never
      // merged: that form before a max pooling; the plain one elsewhere (merged into a convolution, exactly).
      if (layer.outboundNodes.some((n) => n.outboundLayer.getClassName() === 'MaxPooling2D')) {
        return v4(g.node('Pad', [x.name, g.ints('pads', [t, l, b, r]), g.floats('zero', [0], []), g.ints('axes', [2, 3])]));
      }
      return v4(g.node('Pad', [x.name, g.ints('pads', [0, 0, t, l, 0, 0, b, r])]));
    }
    case 'Add': case 'Multiply': case 'Maximum': case 'Minimum': case 'Average': {
      const op = { Add: 'Add', Multiply: 'Mul', Maximum: 'Max', Minimum: 'Min', Average: 'Mean' }[cls]!;
      const rank = Math.max(...inputs.map((i) => i.rank));
      if (inputs.some((i) => i.rank !== rank)) throw new Unsupported(layer.name, 'inputs of different ranks');
      if (op === 'Max' || op === 'Min' || op === 'Mean') return { name: g.node(op, inputs.map((i) => i.name)), rank };
      let acc = inputs[0].name;
      for (const i of inputs.slice(1)) acc = g.node(op, [acc, i.name]);
      return { name: acc, rank };
    }
    case 'Concatenate': {
      const rank = inputs[0].rank;
      const axis = (cfg.axis as number | undefined) ?? -1;
      if ((axis !== -1 && axis !== rank - 1) || inputs.some((i) => i.rank !== rank)) throw new Unsupported(layer.name, `concatenation over axis ${axis}`);
      return { name: g.node('Concat', inputs.map((i) => i.name), { axis: rank === 4 ? 1 : rank - 1 }), rank };
    }
    case 'Rescaling': {
      const scale = Number(cfg.scale);
      const offset = Number(cfg.offset ?? 0);
      const scaled = g.node('Mul', [x.name, g.floats('scale', [scale], [])]);
      return { name: offset ? g.node('Add', [scaled, g.floats('offset', [offset], [])]) : scaled, rank: x.rank };
    }
    case 'ConvlensSigmoidPair': {
      const neg = g.node('Neg', [x.name]);
      return { name: g.node('Sigmoid', [g.node('Concat', [neg, x.name], { axis: -1 })]), rank: 2 };
    }
    case 'ConvlensHardSigmoid': {
      const c = cfg as { alpha: number; beta: number; swish?: boolean };
      const h = g.node('HardSigmoid', [x.name], { 'f:alpha': c.alpha, 'f:beta': c.beta });
      return { name: c.swish ? g.node('Mul', [x.name, h]) : h, rank: x.rank };
    }
    default:
      throw new Unsupported(layer.name, `no ONNX form for ${cls}`);
  }
}

/**
 * The model as a serialized ONNX ModelProto: input 'x' [N, H, W, C] (channels last, as the model takes it), output
 * 'y' (the model's output). Throws `Unsupported` for a model it cannot write.
 */
export function exportOnnx(model: tf.LayersModel): Uint8Array {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new Unsupported(model.name, 'several inputs or outputs');
  const inShape = model.inputs[0].shape;
  if (inShape.length !== 4) throw new Unsupported(model.name, `a rank-${inShape.length} input`);
  const g = new GraphBuilder();
  const values = new Map<string, Value>();
  // Not in tf.tidy: it would walk the returned bytes as a tensor container (getWeights makes no new tensors).
  {
    const input = () => ({ name: g.node('Transpose', ['x'], { perm: [0, 3, 1, 2] }), rank: 4 });
    for (const layer of model.layers) {
      if (layer instanceof tf.LayersModel) throw new Unsupported(layer.name, 'a nested model');
      if (layer.inboundNodes.length !== 1) throw new Unsupported(layer.name, 'a layer used more than once');
      if (layer.getClassName() === 'InputLayer') {
        values.set(layer.name, input());
        continue;
      }
      const parents = layer.inboundNodes[0].inboundLayers as Layer[];
      const inputs = parents.map((p) => {
        // A Sequential model's input layer is not among its layers.
        if (!values.has(p.name) && p.getClassName() === 'InputLayer') values.set(p.name, input());
        const v = values.get(p.name);
        if (!v) throw new Unsupported(layer.name, `input '${p.name}' comes after it`);
        return v;
      });
      values.set(layer.name, exportLayer(g, layer, inputs));
    }
    const last = values.get(model.outputs[0].sourceLayer.name)!;
    const outShape = model.outputs[0].shape;
    if (last.rank !== outShape.length) throw new Unsupported(model.name, 'an output whose layout is unknown');
    g.node(last.rank === 4 ? 'Transpose' : 'Identity', [last.name], last.rank === 4 ? { perm: [0, 2, 3, 1] } : {}, 'y');
    const F = onnx.TensorProto.DataType.FLOAT;
    const dims = (s: (number | null)[]) => ({ dim: s.map((d, i) => (d == null ? { dimParam: i === 0 ? 'N' : `d${i}` } : { dimValue: d })) });
    const proto = onnx.ModelProto.create({
      irVersion: 7,
      producerName: 'convlens',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: model.name,
        node: g.nodes,
        initializer: g.initializers,
        input: [{ name: 'x', type: { tensorType: { elemType: F, shape: dims(inShape) } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: F, shape: dims(outShape) } } }],
      },
    });
    return onnx.ModelProto.encode(proto).finish();
  }
}
