/**
 * The threaded XNNPACK binary in Node (engine/threads.ts): it loads with the thread count asked for, the engine line
 * says so, and predictions, gradients and trained weights are bit-identical to the single-threaded binary's; the
 * thread count is read from CONVLENS_THREADS ('auto' divides the cores by the report's processes).
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendError, selectBackend } from '../../src/engine/backend.ts';
import { requestedThreads } from '../../src/engine/threads.ts';
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
});
