/**
 * Threads for convlens's own SIMD kernels. With the threaded tfjs binary (CONVLENS_THREADS > 1) the wasm memory is
 * shared, so worker threads can run the same kernel module on the same memory: `threads − 1` Node workers each
 * instantiate the module on it and sleep in Atomics.wait until the main thread posts a call. A call runs
 * `kernel(...args, tid, threads)` on every thread at once (the main thread is tid 0) and returns when all are done;
 * the kernel splits its own work by tid in a fixed way, so results do not depend on the thread count.
 * XNNPACK's pool is separate and idle meanwhile (kernels do not overlap).
 */
import { Worker } from 'node:worker_threads';

// The control block: a call's sequence number, how many workers finished it, a failure flag, the kernel's
// index in `names`, the argument count and the (int32) arguments.
const SEQ = 0;
const DONE = 1;
const FAILED = 2;
const FN = 3;
const ARGC = 4;
const ARGS = 5;
const MAX_ARGS = 32;

/** What each worker runs (CommonJS, as an eval'd worker). */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, names, tid, threads } = workerData;
const c = new Int32Array(control);
let kernels;
try {
  kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
} catch {
  kernels = undefined; // every call then reports a failure instead of leaving the main thread waiting
}
let seen = 0;
for (;;) {
  Atomics.wait(c, ${SEQ}, seen);
  seen = Atomics.load(c, ${SEQ});
  try {
    kernels[names[c[${FN}]]](...c.subarray(${ARGS}, ${ARGS} + c[${ARGC}]), tid, threads);
  } catch {
    Atomics.store(c, ${FAILED}, 1);
  }
  Atomics.add(c, ${DONE}, 1);
  Atomics.notify(c, ${DONE});
}
`;

interface Pool {
  threads: number;
  control: Int32Array;
  names: string[];
  workers: Worker[];
}

let pool: Pool | undefined;

/** Start `threads − 1` workers running `module` on the shared `memory` (replacing an earlier pool). */
export function startPool(module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number, names: string[]): void {
  stopPool();
  if (threads < 2) return;
  if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error('convlens engine: SIMD kernel threads need a shared wasm memory');
  const control = new SharedArrayBuffer(4 * (ARGS + MAX_ARGS));
  const workers = Array.from({ length: threads - 1 }, (_, k) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, names, tid: k + 1, threads } });
    worker.unref(); // they wait forever; the process exits without them
    return worker;
  });
  pool = { threads, control: new Int32Array(control), names, workers };
}

export function stopPool(): void {
  for (const w of pool?.workers ?? []) void w.terminate();
  pool = undefined;
}

/** Threads a kernel call runs on (1 without a pool). */
export function poolThreads(): number {
  return pool?.threads ?? 1;
}

/** Run `run(tid, threads)` here as tid 0 and kernel `name(...args, tid, threads)` on every worker; wait for all. */
export function onAllThreads(name: string, args: number[], run: (tid: number, threads: number) => void): void {
  if (pool == null) {
    run(0, 1);
    return;
  }
  const { control: c, threads, names } = pool;
  const fn = names.indexOf(name);
  if (fn < 0 || args.length > MAX_ARGS) throw new Error(`convlens engine: ${name} cannot run on the SIMD threads`);
  c[FN] = fn;
  c[ARGC] = args.length;
  c.set(args, ARGS);
  Atomics.store(c, DONE, 0);
  Atomics.store(c, FAILED, 0);
  Atomics.add(c, SEQ, 1);
  Atomics.notify(c, SEQ);
  try {
    run(0, threads);
  } finally {
    for (let done = Atomics.load(c, DONE); done < threads - 1; done = Atomics.load(c, DONE)) Atomics.wait(c, DONE, done);
  }
  if (Atomics.load(c, FAILED)) {
    throw new Error(`convlens engine: ${name} failed on a SIMD worker thread (CONVLENS_THREADS=1 runs without them)`);
  }
}
