/**
 * convlens's SIMD thread pool (engine/simd/pool.ts) on a module of its own: every thread runs the kernel once with
 * its own tid on the shared memory, and a kernel that traps on a worker is an error on the main thread (not a hang).
 */
import wabtInit from 'wabt';
import { afterEach, describe, expect, it } from 'vitest';
import { onAllThreads, poolThreads, startPool, stopPool } from '../../src/engine/simd/pool.ts';

const WAT = `(module
  (import "env" "memory" (memory 1 1 shared))
  ;; memory[base + 4·tid] = 10·tid + threads
  (func (export "mark") (param $base i32) (param $tid i32) (param $threads i32)
    (i32.store (i32.add (local.get $base) (i32.shl (local.get $tid) (i32.const 2)))
      (i32.add (i32.mul (local.get $tid) (i32.const 10)) (local.get $threads))))
  ;; traps on workers only (tid > 0)
  (func (export "boom") (param $tid i32) (param $threads i32)
    (if (local.get $tid) (then unreachable))))`;

async function setup(threads: number) {
  const wabt = await wabtInit();
  const features = { threads: true };
  const parsed = wabt.parseWat('pool-test.wat', WAT, features);
  parsed.resolveNames();
  const module = new WebAssembly.Module(new Uint8Array(parsed.toBinary({}).buffer));
  parsed.destroy();
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as {
    mark(base: number, tid: number, threads: number): void;
    boom(tid: number, threads: number): void;
  };
  startPool(module, memory, threads, ['mark', 'boom']);
  return { memory, exports };
}

afterEach(() => stopPool());

describe('SIMD thread pool', () => {
  it('runs a kernel once on every thread with its tid, calls after calls', async () => {
    const { memory, exports } = await setup(3);
    expect(poolThreads()).toBe(3);
    const view = new Int32Array(memory.buffer);
    for (const base of [0, 64, 128]) {
      onAllThreads('mark', [base], (tid, n) => exports.mark(base, tid, n));
      expect([...view.subarray(base / 4, base / 4 + 3)]).toEqual([3, 13, 23]);
    }
  });

  it('reports a kernel that traps on a worker as an error, and keeps working after it', async () => {
    const { memory, exports } = await setup(2);
    expect(() => onAllThreads('boom', [], (tid, n) => exports.boom(tid, n))).toThrow(/boom failed on a SIMD worker thread \(CONVLENS_THREADS=1 runs without them\)/);
    onAllThreads('mark', [0], (tid, n) => exports.mark(0, tid, n));
    expect([...new Int32Array(memory.buffer).subarray(0, 2)]).toEqual([2, 12]);
  });

  it('without a pool runs the kernel here only, as thread 0 of 1', () => {
    const seen: number[][] = [];
    onAllThreads('mark', [0], (tid, n) => seen.push([tid, n]));
    expect(seen).toEqual([[0, 1]]);
  });
});
