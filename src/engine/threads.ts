/**
 * tfjs-backend-wasm's threaded XNNPACK binary in Node. tfjs ships it but blocks it in Node three ways: the
 * WASM_HAS_MULTITHREAD_SUPPORT flag is false under IS_NODE; the pthread worker and the main script are handed to
 * Emscripten as blob: URLs, which Node's Worker cannot load; and the C++ side sizes XNNPACK's pool from
 * emscripten_num_logical_cores() / 2 when the module starts (1 thread on a 2-core machine, whatever is asked).
 *
 * `registerThreadedWasm(n)` replaces the 'wasm' backend factory: it loads the threaded module itself with file
 * paths Node can load (the worker's source, which tfjs ships as a string, written once to a temporary file), reports
 * 2n logical cores to the module while it starts so the pool gets n threads, and builds tfjs's own BackendWasm on
 * it — every tfjs and convlens wasm kernel runs unchanged. Threads split each XNNPACK operator's output tiles,
 * so results do not depend on the thread count (tested).
 */
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread: { unusedWorkers: { unref(): void }[]; runningWorkers: { unref(): void }[] };
  tfjs?: Record<string, (...a: number[]) => number>;
}

/** The worker script as a file (Node's Worker takes paths, not blob: URLs); named by its hash, written once. */
function workerFile(dir: string): string {
  const { wasmWorkerContents } = require(join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  // tfjs escapes newlines the same way before making its Blob: the source holds "\n" escapes inside strings.
  const source = wasmWorkerContents.replace(/\n/g, '\\n');
  const file = join(tmpdir(), `convlens-wasm-worker-${createHash('sha256').update(source).digest('hex').slice(0, 16)}.js`);
  if (!existsSync(file)) writeFileSync(file, source);
  return file;
}

let registeredThreads = 0;

/** Make the 'wasm' backend the threaded binary with `threads` XNNPACK threads (before tf.setBackend('wasm')). */
export async function registerThreadedWasm(threads: number): Promise<void> {
  if (!Number.isInteger(threads) || threads < 2) throw new Error(`convlens engine: threaded wasm needs ≥ 2 threads, got ${threads}`);
  if (registeredThreads === threads) return;
  const wasmPkg = await import('@tensorflow/tfjs-backend-wasm');
  const main = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const dir = dirname(main);
  const factory = require(main) as (config: object) => Promise<EmscriptenModule>;
  const worker = workerFile(dir);
  // Not tf.findBackend: it would start the default factory's initialisation.
  if (tf.findBackendFactory('wasm') != null) tf.removeBackend('wasm');
  tf.registerBackend('wasm', async () => {
    const cpus = os.cpus;
    // The module reads the core count while it starts (XNNPACK's pool is created then): report 2n cores.
    (os as { cpus: () => os.CpuInfo[] }).cpus = () => Array.from({ length: 2 * threads }, () => cpus()[0]);
    let module: EmscriptenModule;
    try {
      module = await factory({ locateFile: (path: string) => (path.endsWith('.worker.js') ? worker : join(dir, path)), mainScriptUrlOrBlob: main });
    } finally {
      (os as { cpus: () => os.CpuInfo[] }).cpus = cpus;
    }
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    wasmPkg.setThreadsCount(threads);
    const backend = new wasmPkg.BackendWasm(module as never); // creates XNNPACK's pool: its threads start here
    // The pool's threads wait for work forever (Emscripten refs a worker while its thread runs): let the process
    // exit without them.
    for (const w of [...module.PThread.unusedWorkers, ...module.PThread.runningWorkers]) w.unref();
    return backend;
  }, 2);
  registeredThreads = threads;
}

/** XNNPACK's thread count of the active wasm backend (1 for the plain binary). */
export function wasmThreadCount(): number {
  const registry = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
  const backend = registry.wasm as { wasm?: { tfjs?: { getThreadsCount(): number } } } | undefined;
  return backend?.wasm?.tfjs?.getThreadsCount() ?? 1;
}

/**
 * The thread count asked for: CONVLENS_THREADS (a positive integer, or 'auto' = every core this process may use:
 * the cores divided by CONVLENS_JOBS, the processes sharing the machine). Unset: 1, the single-threaded binary.
 */
export function requestedThreads(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.CONVLENS_THREADS?.trim();
  if (!value) return 1;
  if (value === 'auto') {
    const jobs = Math.max(1, Number.parseInt(env.CONVLENS_JOBS ?? '1', 10) || 1);
    return Math.max(1, Math.floor(os.availableParallelism() / jobs));
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`CONVLENS_THREADS: expected a positive integer or 'auto', got '${value}'`);
  return n;
}
