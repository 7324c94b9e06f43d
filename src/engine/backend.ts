/**
 * Backend selection: the fastest engine that loads, in order
 *   tfjs-node-gpu (CUDA) > tfjs-node (libtensorflow, CPU) > wasm + convlens's gradient kernels > cpu (pure JS).
 * One may be forced by the CLI flag `--backend`, the environment variable CONVLENS_BACKEND or the config key
 * `backend` (in that order of precedence). A forced backend that fails to load is an error, never a silent
 * fallback. The GPU path is chosen automatically when `@tensorflow/tfjs-node-gpu` is installed and loads.
 */
import * as tf from '@tensorflow/tfjs';
import { loadOrt, ortWanted, setOrtThreads } from './ort/runtime.ts';
import { poolThreads } from './simd/pool.ts';
import { requestedThreads, wasmThreadCount } from './threads.ts';

export const BACKEND_IDS = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendId = (typeof BACKEND_IDS)[number];

/** How a candidate is brought up. `load` throws when the candidate cannot run here. */
export interface BackendCandidate {
  id: BackendId;
  /** npm package the candidate needs, named in messages. */
  pkg: string;
  load(): Promise<void>;
}

export interface SkipReason {
  id: BackendId;
  why: string;
}

export interface EngineInfo {
  id: BackendId;
  /** tfjs backend name (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** Why this one: forced by which source, or the first that loaded. */
  reason: string;
  skipped: SkipReason[];
  /** Threads of the wasm engine (CONVLENS_THREADS): XNNPACK's and convlens's SIMD kernels' each; 1 elsewhere. */
  threads: number;
  /** One human line for logs: "engine: wasm (...) — tfjs-node-gpu: not installed; ...". */
  line: string;
}

export class BackendError extends Error {}

/** A package that is not installed, as opposed to installed-but-broken. */
export function isNotInstalled(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  const notFound = e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND';
  return notFound && String(e.message ?? '').includes(pkg);
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].slice(0, 200);
}

/** Import a tfjs-node package and check that it registered its backend in *our* copy of tfjs-core. */
async function loadNodeBinding(pkg: string): Promise<void> {
  await import(/* @vite-ignore */ pkg);
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new BackendError(
      `${pkg} loaded but registered into another copy of @tensorflow/tfjs-core ` +
        `(install the same version as @tensorflow/tfjs ${tf.version.tfjs})`,
    );
  }
  if (!(await tf.setBackend('tensorflow'))) throw new BackendError(`${pkg}: backend 'tensorflow' failed to initialise`);
}

async function loadWasm(): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  const { registerThreadedWasm } = await import('./threads.ts');
  const threads = requestedThreads();
  if (threads > 1) await registerThreadedWasm(threads);
  const { registerWasmKernels } = await import('./kernels/index.ts');
  registerWasmKernels();
  if (!(await tf.setBackend('wasm'))) throw new BackendError('wasm backend failed to initialise');
  const { loadSimdKernels } = await import('./simd/simd.ts');
  // The plain binary exports its memory; the threaded one imports a shared memory, kept as wasmMemory.
  const { wasm } = tf.backend() as unknown as { wasm: { asm: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory } };
  const memory = wasm.asm.memory ?? wasm.wasmMemory;
  if (!memory) throw new BackendError('wasm backend: its WebAssembly memory is not reachable');
  await loadSimdKernels(memory, threads);
}

export const defaultCandidates: readonly BackendCandidate[] = [
  { id: 'node-gpu', pkg: '@tensorflow/tfjs-node-gpu', load: () => loadNodeBinding('@tensorflow/tfjs-node-gpu') },
  { id: 'node', pkg: '@tensorflow/tfjs-node', load: () => loadNodeBinding('@tensorflow/tfjs-node') },
  { id: 'wasm', pkg: '@tensorflow/tfjs-backend-wasm', load: loadWasm },
  {
    id: 'cpu',
    pkg: '@tensorflow/tfjs-backend-cpu',
    load: async () => {
      if (!(await tf.setBackend('cpu'))) throw new BackendError('cpu backend failed to initialise');
    },
  },
];

const DISPLAY: Record<BackendId, string> = {
  'node-gpu': 'tfjs-node-gpu',
  node: 'tfjs-node',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** Where a forced choice came from, highest precedence first. */
export interface BackendRequest {
  cli?: string;
  env?: string;
  config?: string;
}

export function parseBackendId(value: string, source: string): BackendId {
  const v = value.trim().toLowerCase();
  const aliases: Record<string, BackendId> = {
    gpu: 'node-gpu',
    'tfjs-node-gpu': 'node-gpu',
    'tfjs-node': 'node',
    tensorflow: 'node',
  };
  const id = (aliases[v] ?? v) as BackendId;
  if (!BACKEND_IDS.includes(id)) {
    throw new BackendError(`${source}: unknown backend '${value}'; expected one of ${BACKEND_IDS.join(', ')}`);
  }
  return id;
}

function forcedFrom(req: BackendRequest): { id: BackendId; source: string } | undefined {
  if (req.cli) return { id: parseBackendId(req.cli, '--backend'), source: '--backend' };
  if (req.env) return { id: parseBackendId(req.env, 'CONVLENS_BACKEND'), source: 'CONVLENS_BACKEND' };
  if (req.config) return { id: parseBackendId(req.config, "config key 'backend'"), source: "config key 'backend'" };
  return undefined;
}

function describe(id: BackendId, threads: number, simdThreads: number): string {
  const count = (n: number) => `${n} thread${n > 1 ? 's' : ''}`;
  if (id === 'wasm') {
    return `wasm (XNNPACK SIMD, ${count(threads)}, convlens SIMD kernels on ${count(simdThreads)}: Winograd 3x3 convolutions, batch norm, gradients)`;
  }
  if (id === 'node-gpu') return 'tfjs-node-gpu (CUDA)';
  if (id === 'node') return 'tfjs-node (libtensorflow CPU)';
  return 'cpu (pure JavaScript, slow)';
}

/** What runs forward passes (ort/runtime.ts): ONNX Runtime's CPU kernels when its package loads. */
function forwardLine(): string {
  if (!ortWanted()) return 'forward passes: this engine (CONVLENS_FORWARD=onnxruntime runs them on ONNX Runtime)';
  const ort = loadOrt();
  if (typeof ort === 'string') return `forward passes: this engine — ${ort}`;
  const n = requestedThreads();
  return `forward passes: ONNX Runtime ${ort.version} (CPU, ${n} thread${n > 1 ? 's' : ''}) where the model exports`;
}

/**
 * Pick and initialise the backend. `candidates` is injectable for tests.
 * Throws BackendError when a forced backend cannot load or none loads.
 */
export async function selectBackend(
  req: BackendRequest = { env: process.env.CONVLENS_BACKEND },
  candidates: readonly BackendCandidate[] = defaultCandidates,
): Promise<EngineInfo> {
  const forced = forcedFrom(req);
  // A bad thread count is the user's error to fix, not a reason to fall back to another engine.
  try {
    requestedThreads();
  } catch (err) {
    throw new BackendError((err as Error).message);
  }
  // Silence tfjs's console banners ("looks like you are running TensorFlow.js in Node.js"); convlens
  // prints its own engine line instead. PROD affects logging only.
  tf.env().set('PROD', true);
  const skipped: SkipReason[] = [];
  const order = forced ? candidates.filter((c) => c.id === forced.id) : candidates;
  for (const candidate of order) {
    try {
      await candidate.load();
    } catch (err) {
      const why = isNotInstalled(err, candidate.pkg) ? 'not installed' : `failed to load: ${firstLine(err)}`;
      if (forced) {
        const hint = why === 'not installed' ? ` (npm install ${candidate.pkg})` : '';
        throw new BackendError(`backend '${forced.id}' forced by ${forced.source} ${why}${hint}`);
      }
      skipped.push({ id: candidate.id, why });
      continue;
    }
    const reason = forced ? `forced by ${forced.source}` : skipped.length ? 'first that loaded' : 'fastest available';
    const threads = candidate.id === 'wasm' ? wasmThreadCount() : 1;
    setOrtThreads(requestedThreads());
    const skippedText = skipped.map((s) => `${DISPLAY[s.id]}: ${s.why}`).join('; ');
    return {
      id: candidate.id,
      tfBackend: tf.getBackend(),
      reason,
      skipped,
      threads,
      line: `engine: ${describe(candidate.id, threads, candidate.id === 'wasm' ? poolThreads() : 1)}, ${reason}${skippedText ? ` — ${skippedText}` : ''}; ${forwardLine()}`,
    };
  }
  throw new BackendError(
    `no TensorFlow.js backend could load: ${skipped.map((s) => `${DISPLAY[s.id]}: ${s.why}`).join('; ')}`,
  );
}
