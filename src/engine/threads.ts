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
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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

/**
 * XNNPACK's pool (pthreadpool) lets an idle worker spin through 1,000,000 checks of its command word before it
 * sleeps on a futex, unless the last command asked it to yield. Between XNNPACK operators that spin keeps a core
 * busy while convlens's own kernels run on their threads: on 2 cores, 3 threads share 2 cores and the Winograd
 * convolutions of a GAP CNN's forward pass run at ~2/3 speed (batch of 32 at 2 threads: 19.6 → 15.3 ms with the spin
 * cut to 5,000 checks; 100 and 5,000 measured the same, 50,000 15.9 ms; MobileNetV2's forward pass unchanged).
 * The spin count is one instruction in the binary tfjs ships — `i32.const 1000000` followed by the worker's
 * flag test (`local.set 7; local.get 6; i32.const 2; i32.and; i32.eqz`), found exactly once — and its LEB128
 * constant is rewritten in place (same length) to `SPIN_CHECKS` (CONVLENS_SPIN_CHECKS overrides it, for measuring;
 * 1000000 keeps the binary as shipped). The main thread's own spin (waiting for the
 * workers to finish an operator) is left alone. If the pattern is not found exactly once (another tfjs
 * version), the binary is used as shipped.
 */
export const SPIN_CHECKS = 5000;
const SPIN_PATTERN = [0x41, 0xc0, 0x84, 0x3d, 0x21, 0x07, 0x20, 0x06, 0x41, 0x02, 0x71, 0x45];

/** The threaded binary with the worker's spin count set to `checks` (a multiple of 5), or undefined. */
export function patchSpin(binary: Uint8Array, checks = SPIN_CHECKS): Uint8Array | undefined {
  if (checks <= 0 || checks % 5 !== 0 || checks >= 1 << 20) throw new Error(`spin checks must be a positive multiple of 5 below 2^20 (a 3-byte signed LEB128), got ${checks}`);
  const at: number[] = [];
  outer: for (let i = 0; i + SPIN_PATTERN.length <= binary.length; i++) {
    for (let k = 0; k < SPIN_PATTERN.length; k++) if (binary[i + k] !== SPIN_PATTERN[k]) continue outer;
    at.push(i);
  }
  if (at.length !== 1) return undefined;
  const out = binary.slice();
  // i32.const's immediate: 3 bytes of LEB128 (the 1,000,000 it replaces takes 3), padded with continuation bits.
  out.set([0x80 | (checks & 0x7f), 0x80 | ((checks >> 7) & 0x7f), (checks >> 14) & 0x7f], at[0] + 1);
  return out;
}

function patchedBinary(file: string): Uint8Array | undefined {
  const checks = process.env.CONVLENS_SPIN_CHECKS ? Number(process.env.CONVLENS_SPIN_CHECKS) : SPIN_CHECKS;
  if (checks === 1_000_000) return undefined;
  return patchSpin(new Uint8Array(readFileSync(file)), checks);
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
      const wasmBinary = patchedBinary(join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'));
      module = await factory({ ...(wasmBinary ? { wasmBinary } : {}), locateFile: (path: string) => (path.endsWith('.worker.js') ? worker : join(dir, path)), mainScriptUrlOrBlob: main });
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
