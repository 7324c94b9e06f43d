/**
 * Test-only writers of Keras model files, following Keras's documented layouts, so the loaders are tested on
 * files built independently of them: Keras 2 legacy HDF5 (`model_config` + `model_weights`) and Keras 3
 * `.keras` archives (Keras 3 config serialisation + `model.weights.h5` with layers/<snake_case>/vars/<i>).
 */
import { writeFileSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { zipSync } from 'fflate';
import h5wasm from 'h5wasm/node';
import { toSnakeCase } from '../../src/models/keras.ts';

type Json = Record<string, unknown>;

function modelConfig(model: tf.LayersModel): Json {
  return model.toJSON(null, false) as unknown as Json;
}

/** Write `model` as a Keras 2 whole-model HDF5 file. */
export async function writeKeras2H5(model: tf.LayersModel, path: string, opts: { omit?: 'model_weights' | 'model_config' } = {}): Promise<void> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'w');
  try {
    f.create_attribute('keras_version', '2.15.0');
    f.create_attribute('backend', 'tensorflow');
    if (opts.omit !== 'model_config') f.create_attribute('model_config', JSON.stringify(modelConfig(model)));
    if (opts.omit === 'model_weights') return;
    const root = f.create_group('model_weights');
    root.create_attribute('layer_names', model.layers.map((l) => l.name));
    for (const layer of model.layers) {
      const g = root.create_group(layer.name);
      const names = layer.weights.map((w) => `${w.originalName}:0`);
      g.create_attribute('weight_names', names.length ? names : ['']);
      if (!names.length) g.delete_attribute('weight_names');
      layer.getWeights().forEach((t, i) => {
        const [sub, leaf] = names[i].split('/');
        if (g.get(sub) == null) g.create_group(sub);
        g.create_dataset({ name: `${sub}/${leaf}`, data: t.dataSync() as Float32Array, shape: t.shape });
      });
    }
  } finally {
    f.close();
  }
}

const policy = (name: string) => ({ module: 'keras', class_name: 'DTypePolicy', config: { name }, registered_name: null });

/** Keras 2 config (as tfjs writes it) → Keras 3 serialisation. */
function toKeras3(config: Json): Json {
  const wrap = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(wrap);
    if (v != null && typeof v === 'object') {
      const o = v as Json;
      const out: Json = {};
      for (const [k, val] of Object.entries(o)) out[k] = k === 'dtype' && typeof val === 'string' ? policy(val) : wrap(val);
      if ('class_name' in o && 'config' in o) {
        out.module = 'keras.layers';
        out.registered_name = null;
      }
      return out;
    }
    return v;
  };
  const model = wrap(config) as Json;
  model.module = 'keras';
  const mc = model.config as Json;
  const layers = mc.layers as Json[];
  if (model.class_name === 'Sequential') {
    const first = layers[0].config as Json;
    layers.unshift({ module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: first.batch_input_shape, dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null });
    delete first.batch_input_shape;
  } else {
    model.class_name = 'Functional';
    for (const layer of layers) {
      const lc = layer.config as Json;
      if (layer.class_name === 'InputLayer') {
        lc.batch_shape = lc.batch_input_shape;
        delete lc.batch_input_shape;
        lc.dtype = 'float32';
      }
      layer.inbound_nodes = (layer.inbound_nodes as unknown[][][]).map((node) => {
        const tensors = node.map(([name, nodeIndex, tensorIndex]) => ({
          class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: [name, nodeIndex, tensorIndex] },
        }));
        return { args: tensors.length === 1 ? tensors : [tensors], kwargs: {} };
      });
    }
  }
  return model;
}

/** Write `model` as a Keras 3 `.keras` archive. */
export async function writeKeras3(model: tf.LayersModel, path: string, opts: { omit?: 'model.weights.h5' | 'config.json'; truncate?: boolean } = {}): Promise<void> {
  await h5wasm.ready;
  const config = toKeras3(modelConfig(model));
  const dir = mkdtempSync(join(tmpdir(), 'convlens-k3-'));
  const h5path = join(dir, 'model.weights.h5');
  const f = new h5wasm.File(h5path, 'w');
  try {
    const layersGroup = f.create_group('layers');
    const used = new Map<string, number>();
    const ordered = (config.config as Json).layers as Json[];
    for (const lc of ordered) {
      if (config.class_name === 'Sequential' && lc.class_name === 'InputLayer') continue;
      const base = toSnakeCase(String(lc.class_name));
      const n = used.has(base) ? used.get(base)! + 1 : 0;
      used.set(base, n);
      const layer = lc.class_name === 'InputLayer' ? null : model.getLayer(String((lc.config as Json).name));
      const weights = layer?.getWeights() ?? [];
      if (weights.length === 0) continue;
      const vars = layersGroup.create_group(n === 0 ? base : `${base}_${n}`).create_group('vars');
      weights.forEach((t, i) => vars.create_dataset({ name: String(i), data: t.dataSync() as Float32Array, shape: t.shape }));
    }
  } finally {
    f.close();
  }
  const files: Record<string, Uint8Array> = {
    'metadata.json': new TextEncoder().encode(JSON.stringify({ keras_version: '3.6.0', date_saved: '2026-01-01@00:00:00' })),
    'config.json': new TextEncoder().encode(JSON.stringify(config)),
    'model.weights.h5': readFileSync(h5path),
  };
  rmSync(dir, { recursive: true, force: true });
  if (opts.omit) delete files[opts.omit];
  let zip = zipSync(files);
  if (opts.truncate) zip = zip.subarray(0, zip.length >> 1);
  writeFileSync(path, zip);
}
