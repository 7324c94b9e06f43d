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
      // Keras (through h5py) writes an empty list as np.asarray([]): a float64 array of shape (0,).
      if (names.length) g.create_attribute('weight_names', names);
      else g.create_attribute('weight_names', new Float64Array(0), [0], '<d');
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

/** Keras 2 config (as tfjs writes it) → Keras 3 serialisation, nested models included. */
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
  const model = fixModel3(wrap(config) as Json);
  model.module = 'keras';
  return model;
}

/** Keras 3's model layouts: a Sequential lists an InputLayer first; a Functional's nodes hold __keras_tensor__s. */
function fixModel3(model: Json): Json {
  const mc = model.config as Json;
  const layers = mc.layers as Json[];
  for (const layer of layers) {
    if (['Sequential', 'Model', 'Functional'].includes(String(layer.class_name))) {
      const inner = fixModel3({ class_name: layer.class_name, config: layer.config });
      layer.class_name = inner.class_name;
      layer.module = 'keras';
    }
  }
  if (model.class_name === 'Sequential') {
    const first = layers[0].config as Json;
    const innerFirst = ((first.layers as Json[] | undefined)?.[0]?.config as Json | undefined);
    const shape = first.batch_input_shape ?? innerFirst?.batch_input_shape ?? innerFirst?.batch_shape;
    if (shape != null && layers[0].class_name !== 'Functional') {
      layers.unshift({ module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: shape, dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null });
      delete first.batch_input_shape;
    }
  } else {
    model.class_name = 'Functional';
    for (const layer of layers) {
      const lc = layer.config as Json;
      if (layer.class_name === 'InputLayer') {
        lc.batch_shape = lc.batch_input_shape;
        delete lc.batch_input_shape;
        lc.dtype = 'float32';
      }
      layer.inbound_nodes = ((layer.inbound_nodes ?? []) as unknown[][][]).map((node) => {
        const tensors = node.map(([name, nodeIndex, tensorIndex]) => ({
          class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: [name, nodeIndex, tensorIndex] },
        }));
        return { args: tensors.length === 1 ? tensors : [tensors], kwargs: {} };
      });
    }
  }
  return model;
}

/** Keras 3's `_save_container_state`: layers at <group>/<snake_case(class)>[_k]/vars/<i>, nested models one level down. */
function writeKeras3Weights(group: InstanceType<typeof h5wasm.Group>, model: tf.LayersModel, config: Json): void {
  const used = new Map<string, number>();
  for (const lc of (config.config as Json).layers as Json[]) {
    if (config.class_name === 'Sequential' && lc.class_name === 'InputLayer') continue;
    const base = toSnakeCase(String(lc.class_name));
    const n = used.has(base) ? used.get(base)! + 1 : 0;
    used.set(base, n);
    const key = n === 0 ? base : `${base}_${n}`;
    if (lc.class_name === 'InputLayer') continue;
    const layer = model.getLayer(String((lc.config as Json).name));
    if (layer instanceof tf.LayersModel) {
      writeKeras3Weights(group.create_group(key).create_group('layers'), layer, lc);
      continue;
    }
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const vars = group.create_group(key).create_group('vars');
    weights.forEach((t, i) => vars.create_dataset({ name: String(i), data: t.dataSync() as Float32Array, shape: t.shape }));
  }
}

/** Write `model` as a Keras 3 `.keras` archive. */
export async function writeKeras3(model: tf.LayersModel, path: string, opts: { omit?: 'model.weights.h5' | 'config.json'; truncate?: boolean; endpoints?: 'flat' | 'dict' } = {}): Promise<void> {
  await h5wasm.ready;
  const config = toKeras3(modelConfig(model));
  if (opts.endpoints) {
    // Keras 3's other spellings of a functional model's ends: one input as a flat triple (`Model(inputs=x)`), or a
    // dict by name (`Model(inputs={'image': x}, outputs={'probs': y})`).
    const c = (config as { config: Record<string, Array<[string, number, number]>> }).config;
    for (const key of ['input_layers', 'output_layers']) {
      c[key] = (opts.endpoints === 'flat' ? c[key][0] : Object.fromEntries(c[key].map((t) => [t[0], t]))) as never;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'convlens-k3-'));
  const h5path = join(dir, 'model.weights.h5');
  const f = new h5wasm.File(h5path, 'w');
  try {
    writeKeras3Weights(f.create_group('layers'), model, config);
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
