/**
 * The threaded XNNPACK binary in Node (engine/threads.ts): it loads with the thread count asked for, the engine line
 * says so, and predictions, gradients and trained weights are bit-identical to the single-threaded binary's; the
 * thread count is read from CONVLENS_THREADS ('auto' divides the cores by the report's processes).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendError, selectBackend } from '../../src/engine/backend.ts';
import { patchSpin, requestedThreads, SPIN_CHECKS } from '../../src/engine/threads.ts';
import { runNode } from '../helpers/run.ts';

async function fingerprint(env: Record<string, string>): Promise<{ line: string; threads: number; hash: string }> {
  const run = await runNode([resolve('node_modules/tsx/dist/cli.mjs'), 'test/helpers/engine-fingerprint.ts'], { CONVLENS_THREADS: '', ...env }, 300_000);
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

describe('threaded wasm', () => {
  it('runs 2 threads and gives the same bits as 1 thread (predictions, gradients, trained weights)', async () => {
    const one = await fingerprint({});
    const two = await fingerprint({ CONVLENS_THREADS: '2' });
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.line).toMatch(/XNNPACK SIMD, 2 threads, convlens SIMD kernels on 2 threads/);
    expect(two.hash).toBe(one.hash);
  }, 600_000);

  it('reads the thread count from CONVLENS_THREADS', () => {
    expect(requestedThreads({})).toBe(1);
    expect(requestedThreads({ CONVLENS_THREADS: '3' })).toBe(3);
    expect(requestedThreads({ CONVLENS_THREADS: 'auto', CONVLENS_JOBS: '1' })).toBe(availableParallelism());
    expect(requestedThreads({ CONVLENS_THREADS: 'auto', CONVLENS_JOBS: String(availableParallelism()) })).toBe(1);
    expect(() => requestedThreads({ CONVLENS_THREADS: 'many' })).toThrow(/CONVLENS_THREADS: expected a positive integer or 'auto', got 'many'/);
  });

  it('a bad CONVLENS_THREADS stops engine selection with its message (no fallback to another engine)', async () => {
    const saved = process.env.CONVLENS_THREADS;
    process.env.CONVLENS_THREADS = '0';
    try {
      await expect(selectBackend({})).rejects.toThrow(BackendError);
      await expect(selectBackend({})).rejects.toThrow(/CONVLENS_THREADS: expected a positive integer or 'auto', got '0'/);
    } finally {
      if (saved == null) delete process.env.CONVLENS_THREADS;
      else process.env.CONVLENS_THREADS = saved;
    }
  });

  it("rewrites only the idle worker's spin count in tfjs's threaded binary, and leaves an unknown binary alone", () => {
    const file = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm');
    const shipped = new Uint8Array(readFileSync(file));
    const patched = patchSpin(shipped, 5000)!;
    expect(patched).toBeDefined();
    expect(patched.length).toBe(shipped.length);
    const changed = [...shipped.keys()].filter((i) => shipped[i] !== patched[i]);
    // The 3 bytes of one i32.const immediate: LEB128 1,000,000 (c0 84 3d) → 5,000 (88 27 00, padded).
    expect(changed.length).toBeGreaterThan(0);
    expect(changed[changed.length - 1] - changed[0]).toBeLessThan(3);
    const at = changed[0];
    expect(shipped[at - 1]).toBe(0x41); // i32.const
    const leb = (b: Uint8Array) => (b[at] & 0x7f) | ((b[at + 1] & 0x7f) << 7) | ((b[at + 2] & 0x7f) << 14);
    expect(leb(shipped)).toBe(1_000_000);
    expect(leb(patched)).toBe(5000);
    // The other spins of 1,000,000 (the main thread waiting for its workers) are kept.
    const count = (b: Uint8Array) => Buffer.from(b).toString('hex').split('41c0843d').length - 1;
    expect(count(shipped)).toBe(3);
    expect(count(patched)).toBe(2);
    expect(patchSpin(shipped)).toBeDefined();
    expect(SPIN_CHECKS % 5).toBe(0);
    // Not found, or found twice: the binary is used as shipped.
    expect(patchSpin(shipped.slice(0, at - 10))).toBeUndefined();
    const twice = new Uint8Array(2 * shipped.length);
    twice.set(shipped);
    twice.set(shipped, shipped.length);
    expect(patchSpin(twice)).toBeUndefined();
    // The count must stay a positive multiple of 5 (the loop counts down by 5 to exactly 0).
    expect(() => patchSpin(shipped, 7)).toThrow(/multiple of 5/);
    expect(() => patchSpin(shipped, 0)).toThrow(/multiple of 5/);
  });
});
