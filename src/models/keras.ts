/**
 * Loading users' Keras models without Python.
 *
 * - Keras 2 legacy HDF5 (`model.save('m.h5')`): root attribute `model_config` (JSON), group `model_weights` with
 *   attribute `layer_names`; each layer group has attribute `weight_names` ("conv2d/kernel:0", …) naming its
 *   datasets, in the layer's weight order.
 * - Keras 3 `.keras`: a zip of `config.json` (Keras 3 serialisation: `module`, `registered_name`, dtype policies,
 *   `batch_shape`, `__keras_tensor__` inbound nodes) and `model.weights.h5`, where each layer of a Sequential or
 *   Functional model lives at `layers/<snake_case(class name)>[_k]/vars/<i>` (k counts earlier layers of the same
 *   class; Keras 2.13 wrote `_layer_checkpoint_dependencies` instead of `layers`).
 *
 * Configs are converted to the Keras 2 form that tfjs-layers deserialises; weights are matched by layer and
 * checked by count and shape. Files are read with h5wasm (the HDF5 C library in WebAssembly).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadOnnx } from './onnx.ts';
import { loadGraphModel } from './tfjs-graph.ts';
import { unzipSync } from 'fflate';
import type h5wasm from 'h5wasm/node';
import { loadModel, ModelFileError, weightShardPaths } from './io.ts';

type Json = Record<string, unknown>;

/** Keras's `naming.to_snake_case`: the key of a layer inside a Keras 3 weights file. */
export function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Check an HDF5 file's signature and that it is as long as its superblock says, so a truncated or foreign
 * file gets a clear error instead of the HDF5 library's diagnostic stack.
 */
export function checkHdf5(bytes: Uint8Array, file: string): void {
  let base = -1;
  for (let at = 0; at + 8 <= bytes.length; at = at === 0 ? 512 : at * 2) {
    if (HDF5_SIGNATURE.every((b, i) => bytes[at + i] === b)) {
      base = at;
      break;
    }
  }
  if (base < 0) throw new ModelFileError(`${file}: not an HDF5 file (no HDF5 signature); expected a Keras .h5 model`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[base + 8];
  const readAddr = (pos: number, size: number) => (size === 8 ? Number(view.getBigUint64(pos, true)) : view.getUint32(pos, true));
  let eof: number;
  if (version === 0 || version === 1) {
    const sizeOfOffsets = bytes[base + 13];
    const addrs = base + 24 + (version === 1 ? 4 : 0);
    eof = readAddr(addrs + 2 * sizeOfOffsets, sizeOfOffsets);
  } else if (version === 2 || version === 3) {
    const sizeOfOffsets = bytes[base + 9];
    eof = readAddr(base + 12 + 2 * sizeOfOffsets, sizeOfOffsets);
  } else {
    return; // a future superblock version: let the library judge
  }
  if (bytes.length - base < eof) {
    throw new ModelFileError(`${file}: truncated HDF5 file (${bytes.length} bytes; its superblock says ${eof + base})`);
  }
}

/** Open HDF5 bytes with h5wasm through a temporary file (h5wasm's Node build reads real paths). */
async function withHdf5<T>(bytes: Uint8Array, file: string, f: (h5: InstanceType<typeof h5wasm.File>) => T): Promise<T> {
  checkHdf5(bytes, file);
  // Imported when an HDF5 file is opened: through tsx, loading h5wasm's Node build costs ~4 s (its module embeds the
  // WebAssembly binary), which every convlens process would otherwise pay at start.
  const { default: h5lib } = await import('h5wasm/node');
  await h5lib.ready;
  const dir = mkdtempSync(join(tmpdir(), 'convlens-h5-'));
  const path = join(dir, 'model.h5');
  writeFileSync(path, bytes);
  let h5: InstanceType<typeof h5wasm.File> | undefined;
  try {
    h5 = new h5lib.File(path, 'r');
    return f(h5);
  } finally {
    h5?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function attr(entity: { attrs: Record<string, { value: unknown }> }, name: string): unknown {
  const a = entity.attrs[name];
  if (a == null) return undefined;
  const v = a.value;
  return v instanceof Uint8Array ? new TextDecoder().decode(v) : v;
}

/**
 * A string-list attribute as h5py writes it: an array of fixed-length or variable-length strings, a single
 * string, or — for an empty list — Keras's `np.asarray([])`, an empty float64 array of shape (0,).
 */
export function asStrings(v: unknown): string[] {
  if (v == null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map((x) => (x instanceof Uint8Array ? new TextDecoder().decode(x) : String(x)));
  if (ArrayBuffer.isView(v)) {
    const n = (v as unknown as ArrayLike<unknown>).length;
    if (n === 0) return [];
    throw new ModelFileError(`expected a list of names, found ${n} numbers`);
  }
  return [String(v)];
}

/**
 * Keras 2's `load_attributes_from_hdf5_group`: the attribute `name`, or — when the list was longer than the
 * 64 KB an HDF5 object header holds — its chunks `name0`, `name1`, … in order.
 */
export function chunkedAttribute(entity: { attrs: Record<string, { value: unknown }> }, name: string): string[] {
  if (entity.attrs[name] != null) return asStrings(attr(entity, name));
  const out: string[] = [];
  for (let k = 0; entity.attrs[`${name}${k}`] != null; k++) out.push(...asStrings(attr(entity, `${name}${k}`)));
  return out;
}

/** Keras 3 serialised objects → the Keras 2 {class_name, config} form tfjs-layers reads. */
function convertValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(convertValue);
  if (v == null || typeof v !== 'object') return v;
  const o = v as Json;
  if (o.class_name === 'DTypePolicy' || o.class_name === 'Policy' || o.class_name === 'FloatDTypePolicy') {
    return ((o.config as Json)?.name as string) ?? 'float32';
  }
  if (o.class_name === '__tuple__' && Array.isArray((o.config as Json)?.value)) return convertValue((o.config as Json).value);
  const out: Json = {};
  for (const [k, val] of Object.entries(o)) {
    if (k === 'module' || k === 'registered_name' || k === 'build_config' || k === 'compile_config') continue;
    out[k] = convertValue(val);
  }
  return out;
}

/** Keras 3 inbound node {args, kwargs} → Keras 2 [[layer, nodeIndex, tensorIndex, kwargs], …]. */
function convertInboundNode(node: unknown): unknown {
  if (Array.isArray(node)) return node; // already Keras 2
  const tensors: unknown[] = [];
  const collect = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(collect);
    else if (x != null && typeof x === 'object') {
      const o = x as Json;
      if (o.class_name === '__keras_tensor__') {
        const [layer, nodeIndex, tensorIndex] = (o.config as Json).keras_history as [string, number, number];
        tensors.push([layer, nodeIndex, tensorIndex, {}]);
      } else Object.values(o).forEach(collect);
    }
  };
  collect((node as Json).args);
  return tensors;
}

/** Convert a Keras 2 or Keras 3 model config to what tfjs-layers deserialises (nested models included). */
export function toTfjsModelConfig(raw: Json): Json {
  return fixModel(convertValue(raw) as Json);
}

/**
 * A functional model's `input_layers` / `output_layers` as tfjs reads them, [[layer, node, tensor], …]: Keras 3
 * writes a single input as one flat triple and a model built on a dict of inputs (or outputs) as a dict of triples.
 */
function endpointList(v: unknown): unknown {
  if (v != null && typeof v === 'object' && !Array.isArray(v)) return Object.values(v as Json).map(endpointList).flat(1);
  if (Array.isArray(v) && typeof v[0] === 'string') return [v];
  return v;
}

function fixModel(model: Json): Json {
  if (model.class_name === 'Model') model.class_name = 'Functional';
  const config = model.config as Json;
  if (config && model.class_name === 'Functional') {
    for (const key of ['input_layers', 'output_layers']) if (config[key] != null) config[key] = endpointList(config[key]);
  }
  const layers = (config?.layers ?? []) as Json[];
  for (const layer of layers) {
    const lc = layer.config as Json;
    if (layer.class_name === 'InputLayer' && lc.batch_shape != null && lc.batch_input_shape == null) {
      lc.batch_input_shape = lc.batch_shape;
      delete lc.batch_shape;
    }
    if (Array.isArray(layer.inbound_nodes)) layer.inbound_nodes = layer.inbound_nodes.map(convertInboundNode);
    if (layer.name == null && lc?.name != null) layer.name = lc.name;
    if (layer.class_name === 'Sequential' || layer.class_name === 'Functional' || layer.class_name === 'Model') {
      // A nested model: the same fixes one level down (a base model inside the tutorials' Sequential).
      const inner = fixModel({ class_name: layer.class_name, config: lc });
      layer.class_name = inner.class_name;
    }
  }
  // Keras 3 lists a Sequential's InputLayer among its layers; Keras 2 and tfjs put the input shape on the first
  // layer instead (and Sequential.layers excludes the input).
  if (model.class_name === 'Sequential' && layers[0]?.class_name === 'InputLayer' && layers.length > 1) {
    const input = layers.shift()!.config as Json;
    const first = layers[0];
    const fc = first.config as Json;
    // A nested Sequential first: its own first layer takes the shape; a nested Functional has its own input.
    if (first.class_name === 'Sequential') {
      const innerFirst = ((fc.layers ?? []) as Json[])[0]?.config as Json | undefined;
      if (innerFirst) innerFirst.batch_input_shape ??= input.batch_input_shape;
    } else if (first.class_name !== 'Functional') fc.batch_input_shape ??= input.batch_input_shape;
  }
  return model;
}

/** tfjs-layers' registry of deserialisable classes. */
function knownClasses(): Set<string> {
  const map = (tf.serialization.SerializationMap.getMap() as unknown as { classNameMap: Record<string, unknown> }).classNameMap;
  return new Set(Object.keys(map));
}

/** Refuse unsupported layers with one error naming each (layer, class) and what to do. */
function checkLayerClasses(config: Json, file: string): void {
  const known = knownClasses();
  const bad: string[] = [];
  const visit = (m: Json) => {
    for (const layer of ((m.config as Json)?.layers ?? []) as Json[]) {
      const cls = String(layer.class_name);
      const name = String((layer.config as Json)?.name ?? layer.name);
      if (cls === 'Sequential' || cls === 'Functional' || cls === 'Model') visit(layer);
      else if (!known.has(cls)) bad.push(`'${name}' (${cls})`);
    }
  };
  visit(config);
  if (bad.length > 0) {
    throw new ModelFileError(
      `${file}: TensorFlow.js has no implementation of layer ${bad.join(', ')}. Replace ${bad.length > 1 ? 'them' : 'it'} ` +
        'with built-in Keras layers (for a Lambda or custom layer: rewrite it as standard layers) and save the model again.',
    );
  }
}

async function buildModel(config: Json, file: string): Promise<tf.LayersModel> {
  const converted = toTfjsModelConfig(config);
  checkLayerClasses(converted, file);
  try {
    return await tf.models.modelFromJSON({ modelTopology: converted } as never);
  } catch (err) {
    throw new ModelFileError(`${file}: the model config could not be built by TensorFlow.js: ${(err as Error).message}`);
  }
}

/** Set a layer's weights from arrays, checking count and shapes. */
function assignWeights(layer: tf.layers.Layer, arrays: Array<{ name: string; shape: number[]; value: ArrayLike<number> }>, file: string): void {
  const expected = layer.weights;
  if (expected.length !== arrays.length) {
    throw new ModelFileError(
      `${file}: layer '${layer.name}' (${layer.getClassName()}) has ${expected.length} weights but the file has ` +
        `${arrays.length} (${arrays.map((a) => a.name).join(', ') || 'none'})`,
    );
  }
  const tensors = arrays.map((a, i) => {
    const want = expected[i].shape;
    if (want.join() !== a.shape.join()) {
      throw new ModelFileError(
        `${file}: weight ${a.name} of layer '${layer.name}' has shape [${a.shape}] but the model needs [${want}]`,
      );
    }
    return tf.tensor(Float32Array.from(a.value), a.shape);
  });
  try {
    layer.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

function dataset(h5: InstanceType<typeof h5wasm.File>, path: string, file: string) {
  const d = h5.get(path) as { shape: number[] | null; value: unknown } | null;
  if (d == null || !('shape' in d)) throw new ModelFileError(`${file}: missing weight dataset '${path}'`);
  return { name: path, shape: d.shape ?? [], value: d.value as ArrayLike<number> };
}

/** The last two parts of a weight's name without ':0' ("block_1/conv/kernel:0" → "conv/kernel"). */
function weightKey(name: string): string {
  return name.replace(/:\d+$/, '').split('/').slice(-2).join('/');
}

type Arrays = Array<{ name: string; shape: number[]; value: ArrayLike<number> }>;

/**
 * Put the file's arrays in the order of `layer.weights`. Keras 2 saves a layer's `_legacy_weights` (trainable
 * first, then the rest — for a nested model, all inner trainable weights before all moving statistics, and a
 * frozen model in yet another order), so arrays are matched by their layer/weight names when every one matches
 * exactly once, and taken in the file's order otherwise (Keras's own rule); shapes are checked either way.
 */
function inLayerOrder(layer: tf.layers.Layer, arrays: Arrays): Arrays {
  const byKey = new Map<string, Arrays[number][]>();
  for (const a of arrays) byKey.set(weightKey(a.name), [...(byKey.get(weightKey(a.name)) ?? []), a]);
  const matched = layer.weights.map((w) => byKey.get(weightKey(w.originalName)));
  if (arrays.length === layer.weights.length && matched.every((m) => m?.length === 1)) return matched.map((m) => m![0]);
  return arrays;
}

/** Keras 2 legacy HDF5 whole-model file. */
export async function loadKerasH5(path: string): Promise<tf.LayersModel> {
  const file = resolve(path);
  const bytes = readOrFail(file);
  const { config, weights } = await withHdf5(bytes, file, (h5) => {
    const rawConfig = attr(h5, 'model_config');
    if (rawConfig == null) {
      throw new ModelFileError(
        `${file}: no 'model_config' attribute: this holds weights only (model.save_weights). Save the whole model with model.save('model.h5') or model.save('model.keras')`,
      );
    }
    const weights = weightGroups(h5, 'model_weights', file);
    return { config: JSON.parse(String(rawConfig)) as Json, weights };
  });
  const model = await buildModel(config, file);
  assignByLayerName(model, weights, file, 'model_weights');
  return model;
}

/**
 * The weight arrays of every layer group under `prefix` ('' for the root of a weights-only file, `model_weights`
 * in a whole-model file), in the order of the `layer_names` attribute, each with its `weight_names`.
 */
function weightGroups(h5: InstanceType<typeof h5wasm.File>, prefix: string, file: string): Map<string, Arrays> {
  const root = (prefix ? h5.get(prefix) : h5) as InstanceType<typeof h5wasm.Group> | null;
  if (root == null) throw new ModelFileError(`${file}: missing group '${prefix}'`);
  const at = (name: string) => (prefix ? `${prefix}/${name}` : name);
  const weights = new Map<string, Arrays>();
  for (const layerName of chunkedAttribute(root, 'layer_names')) {
    const group = h5.get(at(layerName)) as InstanceType<typeof h5wasm.Group> | null;
    if (group == null) throw new ModelFileError(`${file}: missing group '${at(layerName)}'`);
    let names: string[];
    try {
      names = chunkedAttribute(group, 'weight_names');
    } catch (err) {
      throw new ModelFileError(`${file}: layer '${layerName}': weight_names: ${(err as Error).message}`);
    }
    weights.set(layerName, names.map((w) => dataset(h5, at(`${layerName}/${w}`), file)));
  }
  return weights;
}

function assignByLayerName(model: tf.LayersModel, weights: Map<string, Arrays>, file: string, where: string, only?: (name: string) => boolean): void {
  for (const layer of model.layers) {
    if (layer.weights.length === 0 || (only && !only(layer.name))) continue;
    const arrays = weights.get(layer.name);
    if (arrays == null) throw new ModelFileError(`${file}: no weights for layer '${layer.name}' in ${where} (the file has ${[...weights.keys()].filter((k) => (weights.get(k)?.length ?? 0) > 0).slice(0, 6).join(', ')}, …)`);
    assignWeights(layer, inLayerOrder(layer, arrays), file);
  }
}

/**
 * Weights only (`model.save_weights('w.h5')`, and the ImageNet files Keras's applications download): `layer_names`
 * at the root, one group per layer. Loaded by layer name into `model`, whose architecture must use Keras's names
 * (the zoo's VGG and MobileNetV2 do); every weighted layer must be in the file, with the shapes it needs.
 */
export async function loadKerasWeights(model: tf.LayersModel, path: string, opts: { only?: (layer: string) => boolean } = {}): Promise<void> {
  const file = resolve(path);
  const bytes = readOrFail(file);
  const weights = await withHdf5(bytes, file, (h5) => {
    if (attr(h5, 'layer_names') == null) throw new ModelFileError(`${file}: no 'layer_names' at the root: not a Keras weights file (model.save_weights)`);
    return weightGroups(h5, '', file);
  });
  assignByLayerName(model, weights, file, 'the file', opts.only);
}

/** Keras 3 `.keras` zip archive. */
export async function loadKeras3(path: string): Promise<tf.LayersModel> {
  const file = resolve(path);
  const bytes = readOrFail(file);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (err) {
    throw new ModelFileError(`${file}: not a readable .keras (zip) archive (${(err as Error).message}); truncated or not a Keras 3 file`);
  }
  for (const needed of ['config.json', 'model.weights.h5']) {
    if (entries[needed] == null) throw new ModelFileError(`${file}: the archive has no ${needed} (found: ${Object.keys(entries).join(', ')})`);
  }
  let config: Json;
  try {
    config = JSON.parse(new TextDecoder().decode(entries['config.json']));
  } catch (err) {
    throw new ModelFileError(`${file}: config.json is not valid JSON (${(err as Error).message})`);
  }
  const model = await buildModel(config, file);
  await withHdf5(entries['model.weights.h5'], `${file}!model.weights.h5`, (h5) => {
    const prefix = h5.get('layers') != null ? 'layers' : h5.get('_layer_checkpoint_dependencies') != null ? '_layer_checkpoint_dependencies' : null;
    assignKeras3Weights(h5, model, config, prefix, file);
  });
  return model;
}

const NESTED = new Set(['Sequential', 'Functional', 'Model']);

/**
 * Keras 3's `_save_container_state`: a model's layers live at `<path>/<snake_case(class)>[_k]/vars/<i>`, k
 * counting earlier layers of the same class; a nested model's own layers one level down, at
 * `<path>/<its key>/layers/…` (a Sequential's InputLayer is not among its layers, a Functional's is).
 */
function assignKeras3Weights(h5: InstanceType<typeof h5wasm.File>, model: tf.LayersModel, config: Json, prefix: string | null, file: string): void {
  const layerConfigs = ((config.config as Json)?.layers ?? []) as Json[];
  const ordered = layerConfigs.filter((l) => !(config.class_name === 'Sequential' && l.class_name === 'InputLayer'));
  const used = new Map<string, number>();
  const inner = `${file}!model.weights.h5`;
  for (const l of ordered) {
    const base = toSnakeCase(String(l.class_name));
    const n = used.has(base) ? used.get(base)! + 1 : 0;
    used.set(base, n);
    const key = n === 0 ? base : `${base}_${n}`;
    const name = String((l.config as Json)?.name ?? l.name);
    const layer = model.getLayer(name);
    if (layer.weights.length === 0) continue;
    if (prefix == null) throw new ModelFileError(`${inner}: missing group 'layers'`);
    if (NESTED.has(String(l.class_name)) && layer instanceof tf.LayersModel) {
      // Keras 2.13 wrote `_layer_checkpoint_dependencies` at every level, Keras 3 `layers`.
      const sub = ['layers', '_layer_checkpoint_dependencies'].map((p) => `${prefix}/${key}/${p}`).find((p) => h5.get(p) != null);
      if (sub == null) throw new ModelFileError(`${inner}: missing group '${prefix}/${key}/layers' for nested model '${name}'`);
      assignKeras3Weights(h5, layer, l, sub, file);
      continue;
    }
    const group = h5.get(`${prefix}/${key}/vars`) as InstanceType<typeof h5wasm.Group> | null;
    if (group == null) throw new ModelFileError(`${inner}: missing group '${prefix}/${key}/vars' for layer '${name}'`);
    const indices = group.keys().map(Number).filter(Number.isInteger).sort((a, b) => a - b);
    assignWeights(layer, indices.map((i) => dataset(h5, `${prefix}/${key}/vars/${i}`, inner)), file);
  }
}

function readOrFail(file: string): Uint8Array {
  try {
    const b = readFileSync(file);
    if (b.length === 0) throw new ModelFileError(`${file}: empty file (0 bytes)`);
    return b;
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw new ModelFileError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code})`);
  }
}

/** Refuse weights with NaN or ±Inf: every explanation of such a model would be meaningless. */
export function checkFiniteWeights(model: tf.LayersModel, file: string): void {
  for (const layer of model.layers) {
    for (const w of layer.weights) {
      const values = w.read().dataSync();
      let bad = 0;
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad++;
      if (bad > 0) {
        throw new ModelFileError(
          `${file}: weight ${w.originalName} of layer '${layer.name}' has ${bad} NaN or infinite value${bad > 1 ? 's' : ''} ` +
            'of ' + values.length + '; the model diverged in training or the file is damaged — retrain or export it again',
        );
      }
    }
  }
}

/** The files a model consists of (model.json and its weight shards; the .h5 or .keras file). */
export function modelFiles(path: string): string[] {
  return extname(path).toLowerCase() === '.json' ? [resolve(path), ...weightShardPaths(path)] : [resolve(path)];
}

/** Whether a model.json is a graph model (tensorflowjs_converter from a SavedModel); unreadable files are left to the loader. */
function isGraphModel(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(resolve(path), 'utf8')) as { format?: string }).format === 'graph-model';
  } catch {
    return false;
  }
}

/** Load a model by file type: model.json (tfjs layers or graph, tfjs-graph.ts), .h5/.hdf5 (Keras 2), .keras (Keras 3), .onnx (converted: onnx.ts). */
export async function loadAnyModel(path: string): Promise<tf.LayersModel> {
  const ext = extname(path).toLowerCase();
  let model: tf.LayersModel;
  if (ext === '.json') model = isGraphModel(path) ? await loadGraphModel(path) : await loadModel(path);
  else if (ext === '.h5' || ext === '.hdf5') model = await loadKerasH5(path);
  else if (ext === '.keras') model = await loadKeras3(path);
  else if (ext === '.onnx') model = loadOnnx(path);
  else throw new ModelFileError(`${resolve(path)}: unknown model type '${ext}'; expected model.json (TensorFlow.js), .h5 (Keras 2), .keras (Keras 3) or .onnx (PyTorch and others)`);
  try {
    checkFiniteWeights(model, resolve(path));
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
