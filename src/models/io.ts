/**
 * TensorFlow.js layers-format models (model.json + binary weight shards) on disk, with plain `fs`: no
 * tfjs-node needed. Saving writes a deterministic model.json (no dates) and one `weights.bin` shard; loading
 * follows the documented format (weightsManifest groups of paths and weight specs, any number of shards) and
 * checks every file before tfjs sees it, so a missing or short shard is an error naming the file.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';

export class ModelFileError extends Error {}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}

interface ModelJson {
  modelTopology: object;
  format?: string;
  weightsManifest: Array<{ paths: string[]; weights: WeightSpec[] }>;
}

function specBytes(spec: WeightSpec): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const bytes = BYTES[dtype];
  if (bytes == null) throw new ModelFileError(`weight ${spec.name}: unsupported dtype '${dtype}'`);
  return count * bytes;
}

/** Save `model` to `dir`/model.json and `dir`/weights.bin, atomically (temp folder, then rename). */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  const target = resolve(dir);
  const tmp = `${target}.saving-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData!);
      const json: ModelJson & { generatedBy: string } = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers} (convlens)`,
        modelTopology: artifacts.modelTopology as object,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs as WeightSpec[] }],
      };
      writeFileSync(join(tmp, 'weights.bin'), new Uint8Array(weights));
      writeFileSync(join(tmp, 'model.json'), `${JSON.stringify(json)}\n`);
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  rmSync(target, { recursive: true, force: true });
  mkdirSync(dirname(target), { recursive: true });
  renameSync(tmp, target);
}

/**
 * A weight shard's file: inside the model's folder, or refused. A model.json whose paths climb out
 * ("../../../etc/hostname") or are absolute would otherwise publish any file of the right size as "weights".
 */
export function shardPath(modelJson: string, p: unknown): string {
  const dir = dirname(resolve(modelJson));
  if (typeof p !== 'string' || p === '') throw new ModelFileError(`${resolve(modelJson)}: a weight path is not a file name (${JSON.stringify(p)})`);
  const file = resolve(dir, p);
  const rel = relative(dir, file);
  if (isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p) || rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new ModelFileError(
      `${resolve(modelJson)}: weight path '${p}' leaves the model's folder; weight shards must sit beside model.json ` +
        '(as the TensorFlow.js converter writes them) — move the .bin files there and list them by file name',
    );
  }
  return file;
}

/** The weight shard files a model.json lists (checked to stay in its folder). */
export function weightShardPaths(modelJsonPath: string): string[] {
  const json = JSON.parse(readFileSync(resolve(modelJsonPath), 'utf8')) as Partial<ModelJson>;
  return (json.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => shardPath(modelJsonPath, p)));
}

/** Read and check a model.json and its shards; returns tfjs ModelArtifacts. */
export function readModelArtifacts(modelJsonPath: string, opts: { graph?: boolean } = {}): tf.io.ModelArtifacts {
  const path = resolve(modelJsonPath);
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ModelFileError(
      e.code ? `${path}: cannot read (${e.code})` : `${path}: not valid JSON (${e.message}); is this a tfjs model.json?`,
    );
  }
  if (json == null || typeof json !== 'object' || json.modelTopology == null) {
    throw new ModelFileError(`${path}: no 'modelTopology'; expected a TensorFlow.js layers model (model.json)`);
  }
  if (json.format === 'graph-model' && !opts.graph) {
    throw new ModelFileError(`${path}: a TensorFlow.js graph model; load it with loadAnyModel (models/tfjs-graph.ts)`);
  }
  const manifest = json.weightsManifest ?? [];
  const buffers: Uint8Array[] = [];
  const specs: WeightSpec[] = [];
  for (const group of manifest) {
    const parts = group.paths.map((p) => {
      const file = shardPath(path, p);
      try {
        return readFileSync(file);
      } catch (err) {
        throw new ModelFileError(`${file}: weight shard listed in ${path} cannot be read (${(err as NodeJS.ErrnoException).code})`);
      }
    });
    const have = parts.reduce((n, b) => n + b.length, 0);
    const need = group.weights.reduce((n, s) => n + specBytes(s), 0);
    if (have !== need) {
      throw new ModelFileError(
        `${group.paths.map((p) => shardPath(path, p)).join(', ')}: ${have} bytes of weights, but ${path} ` +
          `describes ${need} (${group.weights.length} tensors); the shard is truncated or belongs to another model`,
      );
    }
    buffers.push(...parts);
    specs.push(...group.weights);
  }
  const total = buffers.reduce((n, b) => n + b.length, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.length;
  }
  return {
    modelTopology: json.modelTopology,
    weightSpecs: specs as tf.io.WeightsManifestEntry[],
    weightData: weightData.buffer,
    format: json.format,
  };
}

/** Load a layers model from model.json on disk. */
export async function loadModel(modelJsonPath: string): Promise<tf.LayersModel> {
  const artifacts = readModelArtifacts(modelJsonPath);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new ModelFileError(`${resolve(modelJsonPath)}: ${(err as Error).message}`);
  }
}

/** Bytes on disk of a saved model folder (for reports). */
export function savedModelBytes(dir: string): number {
  return statSync(join(dir, 'model.json')).size + statSync(join(dir, 'weights.bin')).size;
}
