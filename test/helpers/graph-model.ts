/**
 * TensorFlow.js graph models as `tensorflowjs_converter` writes them from a Keras SavedModel: model.json with
 * `format: "graph-model"`, a GraphDef in JSON (proto3 mapping: int64 as strings, strings base64, `fused_ops` lists)
 * and every Const's value in the weights manifest, by node name. Built here from a tfjs layers model's weights, so
 * the same network exists in both forms: a grappler-style graph with `_FusedConv2D` (BiasAdd, Relu),
 * `FusedDepthwiseConv2dNative` (BiasAdd, Relu6), a Conv2D whose batch norm stayed unfused (Mul, Add), a residual
 * AddV2, pooling, the dynamic flatten (Shape, StridedSlice, Pack, Reshape) or a Mean, `_FusedMatMul`, and Softmax.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

type Attr = Record<string, unknown>;
const b64 = (s: string) => Buffer.from(s).toString('base64');
export const A = {
  ints: (v: number[]) => ({ list: { i: v.map(String) } }),
  s: (v: string) => ({ s: b64(v) }),
  strs: (v: string[]) => ({ list: { s: v.map(b64) } }),
  b: (v: boolean) => ({ b: v }),
  i: (v: number) => ({ i: String(v) }),
  f: (v: number) => ({ f: v }),
  T: { type: 'DT_FLOAT' },
};

export class GraphWriter {
  readonly nodes: Array<{ name: string; op: string; input?: string[]; attr?: Attr; device?: string }> = [];
  private readonly weights: Array<{ name: string; shape: number[]; dtype: 'float32' | 'int32'; data: Float32Array | Int32Array }> = [];

  constant(name: string, data: ArrayLike<number>, shape: number[], dtype: 'float32' | 'int32' = 'float32'): string {
    const typed = dtype === 'float32' ? Float32Array.from(data) : Int32Array.from(data);
    this.weights.push({ name, shape, dtype, data: typed });
    const dt = dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
    this.nodes.push({ name, op: 'Const', attr: { value: { tensor: { dtype: dt, tensorShape: shape.length ? { dim: shape.map((d) => ({ size: String(d) })) } : {} } }, dtype: { type: dt } } });
    return name;
  }

  op(name: string, op: string, input: string[], attr: Attr = {}): string {
    this.nodes.push({ name, op, input, attr, device: '/device:CPU:0' });
    return name;
  }

  /** model.json + one shard; the signature at the top (older converters) or under userDefinedMetadata (newer). */
  write(dir: string, io: { input: string; shape: number[]; output: string; classes: number }, where: 'top' | 'user' = 'user'): void {
    mkdirSync(dir, { recursive: true });
    const tensorInfo = (name: string, dims: number[]) => ({ name: `${name}:0`, dtype: 'DT_FLOAT', tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } });
    const signature = { inputs: { [io.input]: tensorInfo(io.input, [-1, ...io.shape]) }, outputs: { output_0: tensorInfo(io.output, [-1, io.classes]) } };
    const bytes = Buffer.concat(this.weights.map((w) => Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength)));
    const json = {
      format: 'graph-model',
      generatedBy: '2.15.0',
      convertedBy: 'TensorFlow.js Converter v4.17.0',
      ...(where === 'top' ? { signature } : { signature: {}, userDefinedMetadata: { signature } }),
      modelTopology: { node: this.nodes, library: {}, versions: { producer: 1645 } },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: this.weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
    };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    writeFileSync(join(dir, 'group1-shard1of1.bin'), bytes);
  }
}

const values = (t: tf.Tensor) => t.dataSync() as Float32Array;

/**
 * A small functional CNN and its graph-model twin in `dir` (the converter's output). `head`: 'flatten' (the
 * Shape/StridedSlice/Pack/Reshape chain, then two MatMuls) or 'mean' (global average pooling as Mean).
 */
export function graphModelFixture(dir: string, head: 'flatten' | 'mean', where: 'top' | 'user' = 'user'): tf.LayersModel {
  const init = (seed: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed });
  const input = tf.input({ shape: [16, 16, 3], name: 'image' });
  const conv1 = tf.layers.conv2d({ name: 'conv1', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1), biasInitializer: init(2) });
  const dw = tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init(3), biasInitializer: init(4) });
  const relu6 = tf.layers.reLU({ name: 'dw_relu', maxValue: 6 });
  const project = tf.layers.conv2d({ name: 'project', filters: 8, kernelSize: 1, useBias: false, kernelInitializer: init(5) });
  const bn = tf.layers.batchNormalization({ name: 'project_bn', epsilon: 1e-3, gammaInitializer: tf.initializers.constant({ value: 1.3 }), betaInitializer: init(6), movingMeanInitializer: init(7), movingVarianceInitializer: tf.initializers.constant({ value: 0.7 }) });
  const bnRelu = tf.layers.activation({ name: 'project_relu', activation: 'relu' });
  const add = tf.layers.add({ name: 'residual' });
  const pool = tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 });
  const a = conv1.apply(input) as tf.SymbolicTensor;
  const d = relu6.apply(dw.apply(a)) as tf.SymbolicTensor;
  const p = bnRelu.apply(bn.apply(project.apply(d))) as tf.SymbolicTensor;
  const r = pool.apply(add.apply([d, p])) as tf.SymbolicTensor;
  let out: tf.SymbolicTensor;
  const g = new GraphWriter();
  const base = 'StatefulPartitionedCall/model';
  // Graph: conv1 as _FusedConv2D(BiasAdd, Relu).
  g.op('image', 'Placeholder', [], { dtype: A.T, shape: { shape: { dim: [-1, 16, 16, 3].map((s) => ({ size: String(s) })) } } });
  const w = (l: tf.layers.Layer, i: number) => l.getWeights()[i];
  const gx1 = g.op(`${base}/conv1/Relu`, '_FusedConv2D', ['image', g.constant(`${base}/conv1/Conv2D/ReadVariableOp`, values(w(conv1, 0)), [3, 3, 3, 8]), g.constant(`${base}/conv1/BiasAdd/ReadVariableOp`, values(w(conv1, 1)), [8])], {
    T: A.T, data_format: A.s('NHWC'), strides: A.ints([1, 1, 1, 1]), dilations: A.ints([1, 1, 1, 1]), padding: A.s('SAME'), explicit_paddings: { list: {} },
    use_cudnn_on_gpu: A.b(true), num_args: A.i(1), epsilon: A.f(0), fused_ops: A.strs(['BiasAdd', 'Relu']),
  });
  // Depthwise with its bias and ReLU6 fused.
  const gd = g.op(`${base}/dw_relu/Relu6`, 'FusedDepthwiseConv2dNative', [gx1, g.constant(`${base}/dw/depthwise/ReadVariableOp`, values(w(dw, 0)), [3, 3, 8, 1]), g.constant(`${base}/dw/BiasAdd/ReadVariableOp`, values(w(dw, 1)), [8])], {
    T: A.T, data_format: A.s('NHWC'), strides: A.ints([1, 2, 2, 1]), dilations: A.ints([1, 1, 1, 1]), padding: A.s('SAME'), explicit_paddings: { list: {} },
    num_args: A.i(1), fused_ops: A.strs(['BiasAdd', 'Relu6']),
  });
  // A 1x1 Conv2D whose batch norm stayed unfused: Mul by scale, Add offset (as the converter leaves a BN it cannot fold).
  const gp = g.op(`${base}/project/Conv2D`, 'Conv2D', [gd, g.constant(`${base}/project/Conv2D/ReadVariableOp`, values(w(project, 0)), [1, 1, 8, 8])], {
    T: A.T, data_format: A.s('NHWC'), strides: A.ints([1, 1, 1, 1]), dilations: A.ints([1, 1, 1, 1]), padding: A.s('VALID'), explicit_paddings: { list: {} }, use_cudnn_on_gpu: A.b(true),
  });
  const [gamma, beta, mean, variance] = bn.getWeights().map(values);
  const scale = gamma.map((gm, i) => gm / Math.sqrt(variance[i] + 1e-3));
  const offset = beta.map((bt, i) => bt - mean[i] * scale[i]);
  const gm = g.op(`${base}/project_bn/FusedBatchNormV3/Mul`, 'Mul', [gp, g.constant(`${base}/project_bn/FusedBatchNormV3/Scaled`, scale, [8])], { T: A.T });
  const ga = g.op(`${base}/project_bn/FusedBatchNormV3`, 'AddV2', [gm, g.constant(`${base}/project_bn/FusedBatchNormV3/Offset`, offset, [8])], { T: A.T });
  const gr = g.op(`${base}/project_relu/Relu`, 'Relu', [ga], { T: A.T });
  const gadd = g.op(`${base}/residual/add`, 'AddV2', [gd, gr], { T: A.T });
  const gpool = g.op(`${base}/pool/MaxPool`, 'MaxPool', [gadd], { T: A.T, data_format: A.s('NHWC'), ksize: A.ints([1, 2, 2, 1]), strides: A.ints([1, 2, 2, 1]), padding: A.s('VALID') });
  let gout: string;
  if (head === 'flatten') {
    const flat = tf.layers.flatten({ name: 'flatten' });
    const fc = tf.layers.dense({ name: 'fc', units: 12, activation: 'relu', kernelInitializer: init(8), biasInitializer: init(9) });
    const logits = tf.layers.dense({ name: 'logits', units: 4, activation: 'softmax', kernelInitializer: init(10), biasInitializer: init(11) });
    out = logits.apply(fc.apply(flat.apply(r))) as tf.SymbolicTensor;
    // Keras's Flatten in a SavedModel: Reshape(x, Pack([StridedSlice(Shape(x), [0], [1], [1]), -1])).
    const shape = g.op(`${base}/flatten/Shape`, 'Shape', [gpool], { T: A.T, out_type: { type: 'DT_INT32' } });
    const batch = g.op(`${base}/flatten/strided_slice`, 'StridedSlice', [shape, g.constant(`${base}/flatten/strided_slice/stack`, [0], [1], 'int32'), g.constant(`${base}/flatten/strided_slice/stack_1`, [1], [1], 'int32'), g.constant(`${base}/flatten/strided_slice/stack_2`, [1], [1], 'int32')], {
      T: { type: 'DT_INT32' }, Index: { type: 'DT_INT32' }, begin_mask: A.i(0), end_mask: A.i(0), ellipsis_mask: A.i(0), new_axis_mask: A.i(0), shrink_axis_mask: A.i(1),
    });
    const spec = g.op(`${base}/flatten/Reshape/shape`, 'Pack', [batch, g.constant(`${base}/flatten/Const`, [-1], [], 'int32')], { T: { type: 'DT_INT32' }, N: A.i(2), axis: A.i(0) });
    const reshaped = g.op(`${base}/flatten/Reshape`, 'Reshape', [gpool, spec], { T: A.T, Tshape: { type: 'DT_INT32' } });
    const gfc = g.op(`${base}/fc/Relu`, '_FusedMatMul', [reshaped, g.constant(`${base}/fc/MatMul/ReadVariableOp`, values(w(fc, 0)), [128, 12]), g.constant(`${base}/fc/BiasAdd/ReadVariableOp`, values(w(fc, 1)), [12])], {
      T: A.T, transpose_a: A.b(false), transpose_b: A.b(false), num_args: A.i(1), epsilon: A.f(0), fused_ops: A.strs(['BiasAdd', 'Relu']),
    });
    const mm = g.op(`${base}/logits/MatMul`, 'MatMul', [gfc, g.constant(`${base}/logits/MatMul/ReadVariableOp`, values(w(logits, 0)), [12, 4])], { T: A.T, transpose_a: A.b(false), transpose_b: A.b(false) });
    const bias = g.op(`${base}/logits/BiasAdd`, 'BiasAdd', [mm, g.constant(`${base}/logits/BiasAdd/ReadVariableOp`, values(w(logits, 1)), [4])], { T: A.T, data_format: A.s('NHWC') });
    gout = g.op(`${base}/logits/Softmax`, 'Softmax', [bias], { T: A.T });
  } else {
    const gap = tf.layers.globalAveragePooling2d({ name: 'gap' });
    const logits = tf.layers.dense({ name: 'logits', units: 4, activation: 'softmax', kernelInitializer: init(10), biasInitializer: init(11) });
    out = logits.apply(gap.apply(r)) as tf.SymbolicTensor;
    const mean = g.op(`${base}/gap/Mean`, 'Mean', [gpool, g.constant(`${base}/gap/Mean/reduction_indices`, [1, 2], [2], 'int32')], { T: A.T, Tidx: { type: 'DT_INT32' }, keep_dims: A.b(false) });
    const gl = g.op(`${base}/logits/BiasAdd`, '_FusedMatMul', [mean, g.constant(`${base}/logits/MatMul/ReadVariableOp`, values(w(logits, 0)), [8, 4]), g.constant(`${base}/logits/BiasAdd/ReadVariableOp`, values(w(logits, 1)), [4])], {
      T: A.T, transpose_a: A.b(false), transpose_b: A.b(false), num_args: A.i(1), epsilon: A.f(0), fused_ops: A.strs(['BiasAdd']),
    });
    gout = g.op(`${base}/logits/Softmax`, 'Softmax', [gl], { T: A.T });
  }
  g.op('Identity', 'Identity', [gout], { T: A.T });
  g.write(dir, { input: 'image', shape: [16, 16, 3], output: 'Identity', classes: 4 }, where);
  return tf.model({ inputs: input, outputs: out, name: 'graph_twin' });
}
