/**
 * TensorFlow.js graph models (what `tensorflowjs_converter` writes from a SavedModel: model.json with
 * `format: "graph-model"`, a GraphDef in JSON, every Const in the weights manifest) as layers models, so every view
 * and method runs on them: convolutions (plain, `_FusedConv2D` with BiasAdd / FusedBatchNorm and an activation,
 * depthwise, fused depthwise) become Conv2D / DepthwiseConv2D layers named after their nodes, the unfused batch norm
 * the converter leaves (Mul by a per-channel constant, then Add) a BatchNormalization layer, the dynamic flatten
 * (Shape, StridedSlice, Pack, Reshape) a Flatten, `MatMul` / `_FusedMatMul` (+ BiasAdd) a Dense layer, and so on.
 * The signature (at the top of model.json or under `userDefinedMetadata`) names the input and output; without one,
 * the single Placeholder and the node nothing consumes. An operator convlens cannot convert is named with its node.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelFileError, readModelArtifacts } from './io.ts';

export class GraphModelError extends ModelFileError {}

type T = tf.SymbolicTensor;
type Attr = { i?: string | number; f?: number; b?: boolean; s?: string; list?: { i?: Array<string | number>; s?: string[] }; type?: string; shape?: { dim?: Array<{ size: string | number }> } };
interface GraphNode { name: string; op: string; input?: string[]; attr?: Record<string, Attr> }
type Value =
  | { kind: 'tensor'; t: T }
  | { kind: 'const'; t: tf.Tensor }
  | { kind: 'shape' } // Shape(x): only the batch part is used, by the flatten chain
  | { kind: 'batch' }
  | { kind: 'flatten' }; // Pack([batch, -1]): the flatten's target shape

const text = (a?: Attr) => (a?.s != null ? Buffer.from(a.s, 'base64').toString() : undefined);
const ints = (a?: Attr) => (a?.list?.i ?? []).map(Number);
const strs = (a?: Attr) => (a?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString());

const ACTIVATIONS: Record<string, string> = { Relu: 'relu', Relu6: 'relu6', Elu: 'elu', Selu: 'selu', Sigmoid: 'sigmoid', Tanh: 'tanh', Softmax: 'softmax' };

class GraphConverter {
  readonly nodes = new Map<string, GraphNode>();
  readonly values = new Map<string, Value>();
  readonly built: Array<{ layer: tf.layers.Layer; weights: tf.Tensor[] }> = [];
  readonly names = new Set<string>();
  readonly consumers = new Map<string, number>();

  constructor(readonly file: string, graph: GraphNode[], readonly weights: tf.NamedTensorMap) {
    for (const n of graph) this.nodes.set(n.name, n);
    for (const n of graph) for (const i of n.input ?? []) if (!i.startsWith('^')) this.consumers.set(source(i), (this.consumers.get(source(i)) ?? 0) + 1);
  }

  where(node: GraphNode): string {
    return `${this.file}: node '${node.name}' (${node.op})`;
  }

  /** A layer name from the node's: the scope path without the SavedModel's call wrapper, '/' as '_', unique. */
  layerName(node: GraphNode, suffix = ''): string {
    const parts = node.name.split('/').filter((p) => p !== 'StatefulPartitionedCall' && !/^PartitionedCall/.test(p));
    if (parts.length > 2) parts.shift(); // the model's own scope ('model', 'sequential')
    const base = `${parts.join('_').replace(/[^A-Za-z0-9_.-]/g, '_') || node.op}${suffix}`;
    let name = base;
    for (let k = 1; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  apply(layer: tf.layers.Layer, input: T | T[], weights: tf.Tensor[] = []): T {
    this.built.push({ layer, weights });
    return layer.apply(input) as T;
  }

  value(name: string): Value {
    const key = source(name);
    const known = this.values.get(key);
    if (known) return known;
    const node = this.nodes.get(key);
    if (!node) throw new GraphModelError(`${this.file}: input '${name}' names no node of the graph`);
    const v = convertNode(this, node);
    this.values.set(key, v);
    return v;
  }

  tensor(node: GraphNode, k: number): T {
    const v = this.value(node.input![k]);
    if (v.kind !== 'tensor') throw new GraphModelError(`${this.where(node)}: input ${k} ('${node.input![k]}') is ${v.kind === 'const' ? 'a constant' : 'a shape'} where convlens expects a computed tensor`);
    return v.t;
  }

  constant(node: GraphNode, k: number): tf.Tensor {
    const v = this.value(node.input![k]);
    if (v.kind !== 'const') throw new GraphModelError(`${this.where(node)}: input ${k} ('${node.input![k]}') must be a constant (a weight) for convlens to convert it`);
    return v.t;
  }
}

/** 'conv/Relu:0' → 'conv/Relu' (the node; convlens's ops have one output). */
const source = (input: string) => input.replace(/^\^/, '').replace(/:\d+$/, '');

function activationLayer(c: GraphConverter, node: GraphNode, op: string, x: T, suffix = ''): T {
  if (op === 'LeakyRelu') return c.apply(tf.layers.leakyReLU({ name: c.layerName(node, suffix), alpha: node.attr?.alpha?.f ?? 0.2 }), x);
  if (op === 'Relu6') return c.apply(tf.layers.reLU({ name: c.layerName(node, suffix), maxValue: 6 }), x);
  const activation = ACTIVATIONS[op];
  if (!activation) throw new GraphModelError(`${c.where(node)}: the fused activation ${op} is not supported`);
  return c.apply(tf.layers.activation({ name: c.layerName(node, suffix), activation: activation as 'relu' }), x);
}

function padding(c: GraphConverter, node: GraphNode, x: T): { t: T; padding: 'same' | 'valid' } {
  const p = text(node.attr?.padding) ?? 'VALID';
  if (text(node.attr?.data_format) && text(node.attr?.data_format) !== 'NHWC') throw new GraphModelError(`${c.where(node)}: data_format ${text(node.attr?.data_format)}; convlens converts NHWC graphs`);
  if (p === 'SAME') return { t: x, padding: 'same' };
  if (p === 'VALID') return { t: x, padding: 'valid' };
  const e = ints(node.attr?.explicit_paddings); // [0,0, top,bottom, left,right, 0,0]
  const t = c.apply(tf.layers.zeroPadding2d({ name: c.layerName(node, '_pad'), padding: [[e[2], e[3]], [e[4], e[5]]] }), x);
  return { t, padding: 'valid' };
}

/** Conv2D, _FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2dNative. */
function conv(c: GraphConverter, node: GraphNode): Value {
  const depthwise = node.op.includes('Depthwise');
  const filter = c.constant(node, 1);
  const [kh, kw] = filter.shape as number[];
  const strides = ints(node.attr?.strides);
  const dilations = ints(node.attr?.dilations);
  const fused = strs(node.attr?.fused_ops);
  const { t: x, padding: pad } = padding(c, node, c.tensor(node, 0));
  const bias = fused[0] === 'BiasAdd' ? c.constant(node, 2) : undefined;
  const act = fused.slice(1).find((f) => f !== 'FusedBatchNorm');
  const simple = act && ACTIVATIONS[act] && act !== 'Softmax' ? ACTIVATIONS[act] : undefined;
  const common = {
    name: c.layerName(node), kernelSize: [kh, kw] as [number, number], strides: [strides[1] ?? 1, strides[2] ?? 1] as [number, number],
    dilationRate: [dilations[1] ?? 1, dilations[2] ?? 1] as [number, number], padding: pad, useBias: bias != null, activation: (simple ?? 'linear') as 'linear',
  };
  const layer = depthwise ? tf.layers.depthwiseConv2d({ ...common, depthMultiplier: filter.shape[3] as number }) : tf.layers.conv2d({ ...common, filters: filter.shape[3] as number });
  let t = c.apply(layer, x, bias ? [filter.clone(), bias.clone()] : [filter.clone()]);
  if (fused[0] === 'FusedBatchNorm') {
    // _FusedConv2D(x, filter, scale, offset, mean, variance) with FusedBatchNorm: a BatchNormalization layer after it.
    const [scale, offset, mean, variance] = [2, 3, 4, 5].map((k) => c.constant(node, k).clone());
    t = c.apply(tf.layers.batchNormalization({ name: c.layerName(node, '_bn'), epsilon: node.attr?.epsilon?.f ?? 1e-3 }), t, [scale, offset, mean, variance]);
  }
  if (act && !simple) t = activationLayer(c, node, act, t, '_act');
  return { kind: 'tensor', t };
}

/** MatMul / _FusedMatMul (x · W [+ b], activation) as a Dense layer. */
function matMul(c: GraphConverter, node: GraphNode): Value {
  const x = c.tensor(node, 0);
  if (node.attr?.transpose_a?.b) throw new GraphModelError(`${c.where(node)}: MatMul with transpose_a is not supported`);
  let w = c.constant(node, 1);
  w = node.attr?.transpose_b?.b ? w.transpose() : w.clone();
  const fused = strs(node.attr?.fused_ops);
  const bias = fused[0] === 'BiasAdd' ? c.constant(node, 2).clone() : undefined;
  const act = fused[1];
  const simple = act && ACTIVATIONS[act] ? ACTIVATIONS[act] : undefined;
  const layer = tf.layers.dense({ name: c.layerName(node), units: w.shape[1] as number, useBias: bias != null, activation: (simple ?? 'linear') as 'linear' });
  let t = c.apply(layer, x, bias ? [w, bias] : [w]);
  if (act && !simple) t = activationLayer(c, node, act, t, '_act');
  return { kind: 'tensor', t };
}

/**
 * BiasAdd / Add / AddV2 / Mul with a per-channel constant: a bias folded into the layer that was just made (a conv or
 * Dense without one, consumed only here), else a BatchNormalization layer (mean 0, variance 1, ε 0) doing x·s + b —
 * a Mul then Add (the converter's unfused batch norm) becomes one such layer.
 */
function affine(c: GraphConverter, node: GraphNode, x: T, k: tf.Tensor, op: 'add' | 'mul'): Value {
  const channels = x.shape[x.shape.length - 1] as number;
  const vec = k.size === 1 ? tf.fill([channels], k.dataSync()[0]) : k.reshape([channels]);
  const last = c.built[c.built.length - 1];
  const producer = source(node.input![0]);
  const onlyHere = (c.consumers.get(producer) ?? 0) === 1 && last && last.layer.output === x;
  if (onlyHere) {
    const cls = last.layer.getClassName();
    const config = last.layer.getConfig() as Record<string, unknown>;
    const linear = config.activation == null || config.activation === 'linear';
    if (op === 'add' && (cls === 'Conv2D' || cls === 'DepthwiseConv2D' || cls === 'Dense') && !config.useBias && linear) {
      c.built.pop();
      const Ctor = cls === 'Conv2D' ? tf.layers.conv2d : cls === 'Dense' ? tf.layers.dense : tf.layers.depthwiseConv2d;
      const rebuilt = Ctor({ ...(config as object), useBias: true } as never);
      return { kind: 'tensor', t: c.apply(rebuilt, last.layer.input as T, [...last.weights, vec]) };
    }
    if (op === 'add' && cls === 'BatchNormalization' && (config as { epsilon?: number }).epsilon === 0) {
      // Mul then Add: the one affine layer x·s + b.
      c.built.pop();
      const [gamma, beta, mean, variance] = last.weights;
      const rebuilt = tf.layers.batchNormalization({ ...(config as object), name: String(config.name) } as never);
      return { kind: 'tensor', t: c.apply(rebuilt, last.layer.input as T, [gamma, tf.add(beta, vec), mean, variance]) };
    }
  }
  const ones = tf.ones([channels]);
  const zeros = tf.zeros([channels]);
  const weights = op === 'mul' ? [vec, zeros, zeros.clone(), ones] : [ones.clone(), vec, zeros, ones];
  const layer = tf.layers.batchNormalization({ name: c.layerName(node), epsilon: 0 });
  return { kind: 'tensor', t: c.apply(layer, x, weights) };
}

function binary(c: GraphConverter, node: GraphNode): Value {
  const [a, b] = [c.value(node.input![0]), c.value(node.input![1])];
  const op = node.op === 'Mul' ? 'mul' : 'add';
  if (a.kind === 'tensor' && b.kind === 'tensor') {
    const layer = op === 'mul' ? tf.layers.multiply({ name: c.layerName(node) }) : tf.layers.add({ name: c.layerName(node) });
    return { kind: 'tensor', t: c.apply(layer, [a.t, b.t]) };
  }
  if (a.kind === 'tensor' && b.kind === 'const') return affine(c, node, a.t, b.t, op);
  if (a.kind === 'const' && b.kind === 'tensor' && node.op !== 'BiasAdd') return affine(c, { ...node, input: [node.input![1], node.input![0]] }, b.t, a.t, op);
  if (a.kind === 'const' && b.kind === 'const') return { kind: 'const', t: op === 'mul' ? tf.mul(a.t, b.t) : tf.add(a.t, b.t) };
  throw new GraphModelError(`${c.where(node)}: ${node.op} of ${a.kind} and ${b.kind} is not supported`);
}

function pool(c: GraphConverter, node: GraphNode): Value {
  const k = ints(node.attr?.ksize);
  const s = ints(node.attr?.strides);
  const { t, padding: pad } = padding(c, node, c.tensor(node, 0));
  const opts = { name: c.layerName(node), poolSize: [k[1], k[2]] as [number, number], strides: [s[1], s[2]] as [number, number], padding: pad };
  return { kind: 'tensor', t: c.apply(node.op === 'MaxPool' ? tf.layers.maxPooling2d(opts) : tf.layers.averagePooling2d(opts), t) };
}

const OPS: Record<string, (c: GraphConverter, node: GraphNode) => Value> = {
  Const: (c, node) => {
    const t = c.weights[node.name];
    if (!t) throw new GraphModelError(`${c.where(node)}: its value is not in the weights manifest; are the weight files those converted with this model.json?`);
    return { kind: 'const', t };
  },
  Identity: (c, node) => c.value(node.input![0]),
  StopGradient: (c, node) => c.value(node.input![0]),
  Conv2D: conv,
  _FusedConv2D: conv,
  DepthwiseConv2dNative: conv,
  FusedDepthwiseConv2dNative: conv,
  MatMul: matMul,
  _FusedMatMul: matMul,
  BiasAdd: binary,
  Add: binary,
  AddV2: binary,
  Mul: binary,
  MaxPool: pool,
  AvgPool: pool,
  FusedBatchNorm: batchNorm,
  FusedBatchNormV3: batchNorm,
  Mean: (c, node) => {
    const axes = Array.from(c.constant(node, 1).dataSync()).sort().join();
    if (axes !== '1,2' || node.attr?.keep_dims?.b) throw new GraphModelError(`${c.where(node)}: a Mean over axes [${axes}]${node.attr?.keep_dims?.b ? ' keeping them' : ''}; convlens converts the global average pooling Mean (axes 1, 2)`);
    return { kind: 'tensor', t: c.apply(tf.layers.globalAveragePooling2d({ name: c.layerName(node) }), c.tensor(node, 0)) };
  },
  Shape: () => ({ kind: 'shape' }),
  StridedSlice: (c, node) => {
    const from = c.value(node.input![0]);
    const begin = Array.from(c.constant(node, 1).dataSync());
    if (from.kind === 'shape' && begin[0] === 0 && Number(node.attr?.shrink_axis_mask?.i ?? 0) === 1) return { kind: 'batch' };
    throw new GraphModelError(`${c.where(node)}: convlens converts StridedSlice only as the batch size in a flatten (Shape → StridedSlice → Pack → Reshape)`);
  },
  Pack: (c, node) => {
    const parts = (node.input ?? []).map((i) => c.value(i));
    if (parts.length === 2 && parts[0].kind === 'batch' && parts[1].kind === 'const') return { kind: 'flatten' };
    throw new GraphModelError(`${c.where(node)}: convlens converts Pack only as a flatten's target shape [batch, -1]`);
  },
  Reshape: (c, node) => {
    const x = c.tensor(node, 0);
    const spec = c.value(node.input![1]);
    const target = spec.kind === 'const' ? Array.from(spec.t.dataSync()) : undefined;
    const features = (x.shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
    const flat = spec.kind === 'flatten' || (target && target.length === 2 && (target[0] === -1 || target[1] === -1 || target[1] === features));
    if (!flat) throw new GraphModelError(`${c.where(node)}: a Reshape to [${target ?? '?'}]; convlens converts the flatten to [batch, features]`);
    return { kind: 'tensor', t: x.shape.length === 2 ? x : c.apply(tf.layers.flatten({ name: c.layerName(node) }), x) };
  },
  ConcatV2: (c, node) => {
    const inputs = node.input!.filter((i) => !i.startsWith('^'));
    const axis = c.value(inputs[inputs.length - 1]);
    if (axis.kind !== 'const') throw new GraphModelError(`${c.where(node)}: its axis must be a constant`);
    const ts = inputs.slice(0, -1).map((_, k) => c.tensor(node, k));
    return { kind: 'tensor', t: c.apply(tf.layers.concatenate({ name: c.layerName(node), axis: axis.t.dataSync()[0] }), ts) };
  },
  Pad: (c, node) => {
    const p = Array.from(c.constant(node, 1).dataSync()); // [[0,0],[t,b],[l,r],[0,0]]
    return { kind: 'tensor', t: c.apply(tf.layers.zeroPadding2d({ name: c.layerName(node), padding: [[p[2], p[3]], [p[4], p[5]]] }), c.tensor(node, 0)) };
  },
  ...Object.fromEntries(['Relu', 'Relu6', 'Elu', 'Selu', 'Sigmoid', 'Tanh', 'Softmax', 'LeakyRelu'].map((op) => [op, (c: GraphConverter, node: GraphNode): Value => ({ kind: 'tensor', t: activationLayer(c, node, op, c.tensor(node, 0)) })])),
};

/** FusedBatchNorm(V3) left unfused (is_training false): x, scale, offset, mean, variance. */
function batchNorm(c: GraphConverter, node: GraphNode): Value {
  const [scale, offset, mean, variance] = [1, 2, 3, 4].map((k) => c.constant(node, k).clone());
  const layer = tf.layers.batchNormalization({ name: c.layerName(node), epsilon: node.attr?.epsilon?.f ?? 1e-3 });
  return { kind: 'tensor', t: c.apply(layer, c.tensor(node, 0), [scale, offset, mean, variance]) };
}

function convertNode(c: GraphConverter, node: GraphNode): Value {
  const handler = OPS[node.op];
  if (!handler) throw new GraphModelError(`${c.where(node)}: convlens does not convert the graph operator ${node.op}; it converts ${Object.keys(OPS).join(', ')}`);
  return handler(c, node);
}

interface Signature { inputs?: Record<string, { name?: string; tensorShape?: { dim?: Array<{ size: string | number }> } }>; outputs?: Record<string, { name?: string }> }

/** The graph model at `path` (model.json) as a layers model. */
export async function loadGraphModel(path: string): Promise<tf.LayersModel> {
  const file = resolve(path);
  const json = JSON.parse(readFileSync(file, 'utf8')) as { modelTopology: { node?: GraphNode[] }; signature?: Signature; userDefinedMetadata?: { signature?: Signature } };
  const artifacts = readModelArtifacts(file, { graph: true });
  const weights = tf.io.decodeWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs ?? []);
  const nodes = json.modelTopology.node ?? [];
  const signature = [json.signature, json.userDefinedMetadata?.signature].find((s) => s?.inputs && Object.keys(s.inputs).length);
  const c = new GraphConverter(file, nodes, weights);
  try {
    const placeholders = nodes.filter((n) => n.op === 'Placeholder');
    const inputName = signature ? source(Object.values(signature.inputs!)[0].name ?? '') : placeholders[0]?.name;
    const inputNode = inputName ? c.nodes.get(inputName) : undefined;
    if (!inputNode || (signature ? Object.keys(signature.inputs!).length : placeholders.length) !== 1) {
      throw new GraphModelError(`${file}: ${placeholders.length} inputs (${placeholders.map((p) => p.name).join(', ')}); convlens explains models with one image input`);
    }
    const dims = (signature ? Object.values(signature.inputs!)[0].tensorShape?.dim : inputNode.attr?.shape?.shape?.dim)?.map((d) => Number(d.size)) ?? [];
    const [, h, w, ch] = dims;
    if (dims.length !== 4 || !(h > 0) || !(w > 0) || (ch !== 1 && ch !== 3)) {
      throw new GraphModelError(`${file}: input '${inputNode.name}' has shape [${dims.join(', ')}]; convlens needs an image [batch, height, width, 1 or 3] with a fixed height and width`);
    }
    const input = tf.input({ shape: [h, w, ch], name: c.layerName(inputNode) });
    c.values.set(inputNode.name, { kind: 'tensor', t: input });
    const consumed = new Set(nodes.flatMap((n) => (n.input ?? []).map(source)));
    const outputName = signature?.outputs ? source(Object.values(signature.outputs)[0].name ?? '') : nodes.find((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp')?.name;
    const result = outputName ? c.value(outputName) : undefined;
    if (!result || result.kind !== 'tensor' || result.t.shape.length !== 2) throw new GraphModelError(`${file}: the output '${outputName}' is not a [batch, classes] tensor`);
    const model = tf.model({ inputs: input, outputs: result.t, name: 'graph_model' });
    for (const { layer, weights: ws } of c.built) if (ws.length) layer.setWeights(ws);
    return model;
  } finally {
    for (const { weights: ws } of c.built) tf.dispose(ws);
    tf.dispose(Object.values(weights));
  }
}
