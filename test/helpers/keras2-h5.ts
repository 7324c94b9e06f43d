/**
 * Keras 2 .h5 files written by h5py, as Keras 2 writes them (test/fixtures/keras2_h5.py), from a tfjs model:
 * each top-level layer's weights in Keras 2's `_legacy_weights` order with TF2 variable names
 * ("<layer>/<weight>:0"), and a float64 NumPy forward pass as the reference. Needs python3 with h5py (Debian's
 * python3-h5py); `H5PY_PYTHON` is undefined when there is none.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';

export const H5PY_PYTHON = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import h5py, numpy'], { stdio: 'ignore' }).status === 0);

type Variable = tf.LayerVariable & { leaf: string };
const isModel = (l: tf.layers.Layer): l is tf.LayersModel => l instanceof tf.LayersModel;
const tag = (layer: tf.layers.Layer, ws: tf.LayerVariable[]) => ws.map((w) => Object.assign(w, { leaf: layer.name }) as Variable);

/**
 * Keras 2's order for a layer's saved weights: trainable then non-trainable, where a nested model gathers its
 * children's, and a frozen model (`trainable = False`, which Keras propagates to its sublayers) lists every
 * child variable in creation order — not tfjs's order (all trainable first) for a frozen container.
 */
export function kerasLegacyWeights(layer: tf.layers.Layer, frozen = false): Variable[] {
  const off = frozen || !layer.trainable;
  const children = isModel(layer) ? layer.layers.filter((l) => l.getClassName() !== 'InputLayer') : [];
  const variables = (l: tf.layers.Layer): Variable[] => (isModel(l) ? l.layers.flatMap(variables) : tag(l, l.weights));
  const trainable = (l: tf.layers.Layer, f: boolean): Variable[] =>
    f || !l.trainable ? [] : isModel(l) ? l.layers.flatMap((c) => trainable(c, false)) : tag(l, l.trainableWeights);
  const nonTrainable = (l: tf.layers.Layer, f: boolean): Variable[] =>
    f || !l.trainable ? variables(l) : isModel(l) ? l.layers.flatMap((c) => nonTrainable(c, false)) : tag(l, l.nonTrainableWeights);
  if (!isModel(layer)) return [...trainable(layer, off), ...nonTrainable(layer, off)];
  return [...children.flatMap((c) => trainable(c, off)), ...children.flatMap((c) => nonTrainable(c, off))];
}

export interface Keras2Options {
  strings?: 'fixed' | 'vlen';
  trainingConfig?: boolean;
  /** Object header limit in bytes (Keras: 64,512), lowered to make Keras's chunked attributes appear. */
  headerLimit?: number;
  /** A Sequential config listing its InputLayer first, as tf.keras ≥ 2.4 writes it. */
  sequentialInputLayer?: boolean;
  /** Also compute the float64 reference output for this input. */
  input?: tf.Tensor4D;
  /** Weights only, as model.save_weights('w.h5') and Keras's ImageNet files: no model_config. */
  weightsOnly?: boolean;
}

/** Write `model` to `path` through h5py; returns the float64 reference output for `opts.input`. */
export function writeKeras2H5Py(model: tf.LayersModel, path: string, opts: Keras2Options = {}): Float64Array | undefined {
  if (!H5PY_PYTHON) throw new Error('python3 with h5py is needed (apt-get install python3-h5py)');
  const dir = mkdtempSync(join(tmpdir(), 'convlens-k2py-'));
  try {
    const chunks: Float32Array[] = [];
    let offset = 0;
    const layers = model.layers.map((layer) => ({
      name: layer.name,
      weights: kerasLegacyWeights(layer).map((w) => {
        const data = w.read().dataSync() as Float32Array;
        chunks.push(data);
        const entry = { name: `${w.leaf}/${w.originalName.split('/').pop()}:0`, shape: w.shape, offset };
        offset += data.length;
        return entry;
      }),
    }));
    const bin = join(dir, 'weights.f32');
    writeFileSync(bin, Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))));
    const spec: Record<string, unknown> = { path, bin, layers, modelConfig: model.toJSON(null, false), ...opts, input: undefined };
    if (opts.input) {
      writeFileSync(join(dir, 'x.f32'), Buffer.from((opts.input.dataSync() as Float32Array).buffer));
      spec.reference = { bin: join(dir, 'x.f32'), shape: opts.input.shape };
    }
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    const run = spawnSync(H5PY_PYTHON, [resolve('test/fixtures/keras2_h5.py'), join(dir, 'spec.json')], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`keras2_h5.py failed: ${run.stderr}`);
    return opts.input ? Float64Array.from(JSON.parse(run.stdout).output) : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
