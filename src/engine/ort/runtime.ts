/**
 * Forward passes on ONNX Runtime (the npm package onnxruntime-node, an optional dependency): the model written as
 * ONNX (export.ts) and run by ONNX Runtime's CPU kernels (MLAS: AVX2/AVX-512 and NEON), which compute what
 * `model.predict` computes 2–5x faster than tfjs's wasm backend on user-size models (bench: passes). Input
 * gradients stay on the tfjs engine (ONNX Runtime's npm build runs inference only).
 *
 * Sessions are made once per model and rebuilt when a weight changes (training, setWeights: every tfjs weight update
 * gives the variable new data, which is what is checked). ONNX Runtime's native `run` is synchronous under the
 * package's Promise wrapper; convlens calls it directly so `forward` stays synchronous like the tfjs engine.
 *
 * Which engine runs forward passes (`forwardEngine`): with CONVLENS_FORWARD=onnxruntime, ONNX Runtime when the
 * package loads and the model exports, else tfjs (the reason is kept for the engine's line); otherwise tfjs. Opt-in
 * until two cold runs of the default report give byte-identical reports with it (one did not in CI: LeNet-5's
 * occlusion deletion/insertion AUCs differed between runs).
 * The execution provider: 'cpu'; 'cuda' first when CONVLENS_GPU asks for a GPU and the package holds its CUDA
 * provider library (onnxruntime-node installs it on Linux x64 unless its install is skipped) — `providers`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { exportOnnx, Unsupported } from './export.ts';

const require = createRequire(import.meta.url);

interface OrtTensorLike {
  type: string;
  data: Float32Array;
  dims: readonly number[];
}

interface NativeSession {
  loadModel(buffer: ArrayBuffer, offset: number, length: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: object): Record<string, OrtTensorLike>;
  dispose(): void;
}

interface Ort {
  version: string;
  dir: string;
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  Session: new () => NativeSession;
}

let loaded: Ort | string | undefined;

/** ONNX Runtime's node binding, or why it is not available. */
export function loadOrt(): Ort | string {
  if (loaded !== undefined) return loaded;
  try {
    const main = require.resolve('onnxruntime-node');
    const dir = dirname(dirname(main));
    // The copy of onnxruntime-common the binding itself loads (its Tensor class is what `run` takes).
    const common = createRequire(join(dir, 'dist', 'binding.js'))('onnxruntime-common') as { Tensor: Ort['Tensor']; env: { logLevel?: string } };
    const { binding, initOrt } = require(join(dir, 'dist', 'binding.js')) as { binding: { InferenceSession: Ort['Session'] }; initOrt(): void };
    // A session that cannot be made is an exception convlens reports (the model then runs on tfjs), not a log line.
    common.env.logLevel = 'fatal';
    initOrt();
    const version = (require(join(dir, 'package.json')) as { version: string }).version;
    loaded = { version, dir, Tensor: common.Tensor, Session: binding.InferenceSession };
  } catch (e) {
    const code = (e as { code?: string }).code;
    loaded = code === 'MODULE_NOT_FOUND'
      ? 'onnxruntime-node is not installed (npm install onnxruntime-node --onnxruntime-node-install=skip)'
      : `onnxruntime-node does not load: ${(e as Error).message.split('\n')[0]}`;
  }
  return loaded;
}

/**
 * The execution providers to ask for, in order: 'cuda' first when a GPU is asked for (`gpu`) and the CUDA provider
 * library is present, then 'cpu' (always the fallback: ONNX Runtime assigns every node the CUDA provider cannot run
 * to it).
 */
export function providers(gpu: boolean, hasCudaLibrary: boolean): string[] {
  return gpu && hasCudaLibrary ? ['cuda', 'cpu'] : ['cpu'];
}

function cudaLibrary(ort: Ort): boolean {
  return existsSync(join(ort.dir, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'));
}

const gpuAsked = () => /^(1|true|yes|cuda)$/i.test(process.env.CONVLENS_GPU ?? '');

let threads = 1;

/** ONNX Runtime's intra-op threads for sessions made from now on (the engine's thread count). */
export function setOrtThreads(n: number): void {
  threads = Math.max(1, Math.floor(n));
}

interface Entry {
  sources: object[];
  session: NativeSession | null;
  reason?: string;
}

const SESSIONS = new WeakMap<tf.LayersModel, Entry>();

const weightSources = (model: tf.LayersModel) => model.weights.map((w) => (w.read() as unknown as { dataId: object }).dataId);

/** The model's session, made (or remade after a weight change) as needed; null with the reason when it cannot be. */
function sessionOf(model: tf.LayersModel): Entry {
  const ort = loadOrt();
  const sources = weightSources(model);
  const known = SESSIONS.get(model);
  if (known && known.sources.length === sources.length && known.sources.every((s, i) => s === sources[i])) return known;
  known?.session?.dispose();
  let entry: Entry;
  if (typeof ort === 'string') entry = { sources, session: null, reason: ort };
  else {
    try {
      const bytes = exportOnnx(model);
      const session = new ort.Session();
      session.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        executionProviders: providers(gpuAsked(), cudaLibrary(ort)),
        // Idle threads sleep instead of spinning between runs (the tfjs engine's threads run meanwhile).
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      entry = { sources, session };
    } catch (e) {
      entry = { sources, session: null, reason: e instanceof Unsupported ? e.message : `ONNX Runtime: ${(e as Error).message.split('\n')[0]}` };
    }
  }
  SESSIONS.set(model, entry);
  return entry;
}

/** Close the model's session now (its native memory is not the garbage collector's to see). */
export function releaseSession(model: tf.LayersModel): void {
  SESSIONS.get(model)?.session?.dispose();
  SESSIONS.delete(model);
}

/** Whether forward passes may run on ONNX Runtime: CONVLENS_FORWARD=onnxruntime. */
export function ortWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CONVLENS_FORWARD === 'onnxruntime';
}

export type ForwardEngine = { kind: 'onnxruntime'; version: string } | { kind: 'tfjs'; reason: string };

/** Which engine `forward` uses for `model`. */
export function forwardEngine(model: tf.LayersModel): ForwardEngine {
  if (!ortWanted()) return { kind: 'tfjs', reason: 'CONVLENS_FORWARD is not onnxruntime' };
  const entry = sessionOf(model);
  const ort = loadOrt();
  return entry.session && typeof ort !== 'string' ? { kind: 'onnxruntime', version: ort.version } : { kind: 'tfjs', reason: entry.reason ?? 'unavailable' };
}

/**
 * The model's output for `x` (NHWC float32) computed by ONNX Runtime, `batchSize` images per run; undefined when
 * ONNX Runtime does not run this model (the caller uses the tfjs engine). The caller owns the result.
 */
export function ortForward(model: tf.LayersModel, x: tf.Tensor, batchSize: number): tf.Tensor | undefined {
  if (!ortWanted() || x.dtype !== 'float32' || x.rank !== 4) return undefined;
  const { session } = sessionOf(model);
  const ort = loadOrt();
  if (!session || typeof ort === 'string') return undefined;
  const [n, h, w, c] = x.shape;
  const all = x.dataSync() as Float32Array;
  const per = h * w * c;
  const size = Math.max(1, batchSize);
  let out: Float32Array | undefined;
  let outShape: number[] = [];
  for (let start = 0; start < n; start += size) {
    const b = Math.min(size, n - start);
    const input = new ort.Tensor('float32', all.subarray(start * per, (start + b) * per), [b, h, w, c]);
    const y = session.run({ x: input }, { y: null }, {}).y;
    const each = y.data.length / b;
    if (!out) {
      out = new Float32Array(each * n);
      outShape = [n, ...y.dims.slice(1)];
    }
    out.set(y.data, start * each);
  }
  return tf.tensor(out ?? new Float32Array(0), n ? outShape : [0, ...model.outputs[0].shape.slice(1).map((d) => d ?? 0)], 'float32');
}
