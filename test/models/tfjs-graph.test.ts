/**
 * TensorFlow.js graph models as tensorflowjs_converter writes them (test/helpers/graph-model.ts): converted into
 * layers, they predict what plain TensorFlow.js's own graph executor predicts for the same files, and what the same
 * network as a layers model predicts; the conv nodes are layers named after them; gradients run through them; bad
 * files are clear errors.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAnyModel } from '../../src/models/keras.ts';
import { useBackend } from '../helpers/backends.ts';
import { graphModelFixture } from '../helpers/graph-model.ts';

beforeAll(async () => {
  await useBackend('wasm');
});

const tmp = () => mkdtempSync(join(tmpdir(), 'convlens-graph-'));

/** Plain TensorFlow.js running the graph model from the same files (its GraphModel executor). */
async function tfjsGraph(dir: string): Promise<tf.GraphModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const bin = readFileSync(join(dir, 'group1-shard1of1.bin'));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData, userDefinedMetadata: json.userDefinedMetadata, signature: json.signature }));
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('TensorFlow.js graph models', () => {
  it.each([['flatten', 'user'], ['mean', 'top']] as const)('head %s, signature %s: predictions within 1e-5 of plain tfjs and of the same network as a layers model', async (head, where) => {
    const dir = tmp();
    const twin = graphModelFixture(dir, head, where);
    const model = await loadAnyModel(join(dir, 'model.json'));
    const x = tf.randomUniform([3, 16, 16, 3], 0, 1, 'float32', 4);
    const ours = (model.predict(x) as tf.Tensor).dataSync();
    const graph = await tfjsGraph(dir);
    const reference = (graph.predict(x) as tf.Tensor).dataSync();
    const layers = (twin.predict(x) as tf.Tensor).dataSync();
    expect(ours.length).toBe(12);
    expect(maxDiff(ours, reference)).toBeLessThan(1e-5);
    expect(maxDiff(ours, layers)).toBeLessThan(1e-5);
    expect(Math.max(...ours)).toBeLessThan(1);
    // The conv nodes are layers named after them (the SavedModel's call wrapper and model scope dropped).
    const names = model.layers.map((l) => `${l.getClassName()}:${l.name}`);
    expect(names).toEqual(expect.arrayContaining(['Conv2D:conv1_Relu', 'DepthwiseConv2D:dw_relu_Relu6', 'Conv2D:project_Conv2D', 'BatchNormalization:project_bn_FusedBatchNormV3_Mul', 'Add:residual_add', 'MaxPooling2D:pool_MaxPool']));
    expect(names).toContain(head === 'flatten' ? 'Flatten:flatten_Reshape' : 'GlobalAveragePooling2D:gap_Mean');
    // Gradients run through the converted layers (the input gradient of the first class is not zero).
    const g = tf.grad((v: tf.Tensor) => (model.predict(v) as tf.Tensor).slice([0, 0], [-1, 1]).sum())(x);
    expect(g.abs().max().dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([x, g]);
    model.dispose();
    twin.dispose();
    graph.dispose();
  });

  it('bad graph models: a missing weight file, an unknown operator, a weight absent from the manifest — each names the file', async () => {
    const dir = tmp();
    graphModelFixture(dir, 'mean').dispose();
    const json = readFileSync(join(dir, 'model.json'), 'utf8');
    rmSync(join(dir, 'group1-shard1of1.bin'));
    await expect(loadAnyModel(join(dir, 'model.json'))).rejects.toThrow(/group1-shard1of1\.bin: weight shard listed in .*model\.json cannot be read \(ENOENT\)/);
    const unknown = tmp();
    graphModelFixture(unknown, 'mean').dispose();
    writeFileSync(join(unknown, 'model.json'), json.replace('"op":"MaxPool"', '"op":"FractionalMaxPool"'));
    await expect(loadAnyModel(join(unknown, 'model.json'))).rejects.toThrow(/model\.json: node 'StatefulPartitionedCall\/model\/pool\/MaxPool' \(FractionalMaxPool\): convlens does not convert the graph operator FractionalMaxPool/);
    // The last weight (the logits' bias, 4 floats) left out of the manifest and of the shard.
    const short = tmp();
    graphModelFixture(short, 'mean').dispose();
    const m = JSON.parse(readFileSync(join(short, 'model.json'), 'utf8'));
    const dropped = m.weightsManifest[0].weights.pop();
    expect(dropped.name).toBe('StatefulPartitionedCall/model/logits/BiasAdd/ReadVariableOp');
    writeFileSync(join(short, 'model.json'), JSON.stringify(m));
    const bin = readFileSync(join(short, 'group1-shard1of1.bin'));
    writeFileSync(join(short, 'group1-shard1of1.bin'), bin.subarray(0, bin.length - 16));
    await expect(loadAnyModel(join(short, 'model.json'))).rejects.toThrow(/model\.json: node 'StatefulPartitionedCall\/model\/logits\/BiasAdd\/ReadVariableOp' \(Const\): its value is not in the weights manifest/);
  });
});
