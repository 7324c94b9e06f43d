// Entry of a data-parallel training replica (src/train/parallel.ts): a worker thread starts without the main
// thread's loader hooks, so it registers tsx's itself (convlens runs its TypeScript without a build step). If that
// or loading the replica fails, the failure is written where the main thread, waiting on the control block,
// reads it (it cannot see this thread's 'error' event while it waits) — the same layout as parallel.ts's writeError.
import { workerData } from 'node:worker_threads';

try {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./replica.ts');
} catch (err) {
  const control = new Int32Array(workerData.control);
  if (Atomics.compareExchange(control, 3 /* FAILED */, 0, workerData.index + 1) === 0) {
    const bytes = new TextEncoder().encode(`could not start: ${err instanceof Error ? err.message : String(err)}`).subarray(0, workerData.error.byteLength - 4);
    new Int32Array(workerData.error, 0, 1)[0] = bytes.length;
    new Uint8Array(workerData.error, 4).set(bytes);
  }
  Atomics.add(control, 2 /* READY */, 1);
  Atomics.notify(control, 2);
}
