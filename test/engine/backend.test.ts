import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  BackendError, type BackendCandidate, type BackendId, defaultCandidates, isNotInstalled, parseBackendId, selectBackend,
} from '../../src/engine/backend.ts';

/** A candidate whose load succeeds, or fails the way a real missing / broken package fails. */
function fake(id: BackendId, outcome: 'ok' | 'missing' | 'broken', calls: string[] = []): BackendCandidate {
  const pkg = `@fake/${id}`;
  return {
    id,
    pkg,
    load: async () => {
      calls.push(id);
      if (outcome === 'missing') {
        // Exactly what Node throws for a package that is not installed.
        await import(/* @vite-ignore */ pkg);
      }
      if (outcome === 'broken') await import('../fixtures/broken-binding.mjs');
    },
  };
}

describe('backend selection', () => {
  it('takes the first candidate that loads and says why the better ones were skipped', async () => {
    const calls: string[] = [];
    const info = await selectBackend({}, [
      fake('node-gpu', 'missing', calls), fake('node', 'broken', calls), fake('wasm', 'ok', calls), fake('cpu', 'ok', calls),
    ]);
    expect(info.id).toBe('wasm');
    expect(calls).toEqual(['node-gpu', 'node', 'wasm']);
    expect(info.skipped).toEqual([
      { id: 'node-gpu', why: 'not installed' },
      { id: 'node', why: 'failed to load: libcudart.so.11.0: cannot open shared object file: No such file or directory' },
    ]);
    expect(info.line).toContain('tfjs-node-gpu: not installed');
    expect(info.line).toContain('tfjs-node: failed to load: libcudart.so.11.0');
  });

  it('prefers the GPU when it loads', async () => {
    const info = await selectBackend({}, [fake('node-gpu', 'ok'), fake('node', 'ok'), fake('wasm', 'ok')]);
    expect(info.id).toBe('node-gpu');
    expect(info.reason).toBe('fastest available');
  });

  it('honours --backend over CONVLENS_BACKEND over the config key', async () => {
    const all = () => [fake('node-gpu', 'ok'), fake('node', 'ok'), fake('wasm', 'ok'), fake('cpu', 'ok')];
    expect((await selectBackend({ cli: 'cpu', env: 'wasm', config: 'node' }, all())).id).toBe('cpu');
    expect((await selectBackend({ env: 'wasm', config: 'node' }, all())).reason).toBe('forced by CONVLENS_BACKEND');
    expect((await selectBackend({ config: 'node' }, all())).id).toBe('node');
    expect((await selectBackend({ cli: 'gpu' }, all())).id).toBe('node-gpu');
  });

  it('fails loudly when a forced backend cannot load, instead of falling back', async () => {
    const cands = [fake('node-gpu', 'missing'), fake('wasm', 'ok')];
    await expect(selectBackend({ cli: 'node-gpu' }, cands)).rejects.toThrow(
      "backend 'node-gpu' forced by --backend not installed (npm install @fake/node-gpu)",
    );
    await expect(selectBackend({ env: 'node' }, [fake('node', 'broken')])).rejects.toThrow(
      /forced by CONVLENS_BACKEND failed to load: libcudart/,
    );
  });

  it('rejects unknown backend names, naming the source', () => {
    expect(() => parseBackendId('webgpu', 'CONVLENS_BACKEND')).toThrow(BackendError);
    expect(() => parseBackendId('webgpu', 'CONVLENS_BACKEND')).toThrow(/CONVLENS_BACKEND: unknown backend 'webgpu'/);
  });

  it('reports when nothing loads', async () => {
    await expect(selectBackend({}, [fake('node', 'missing'), fake('cpu', 'broken')])).rejects.toThrow(/no TensorFlow.js backend/);
  });

  it('tells "not installed" from "installed but broken" on real imports', async () => {
    const missing = await import('@tensorflow/tfjs-node-gpu' as string).catch((e: unknown) => e);
    expect(isNotInstalled(missing, '@tensorflow/tfjs-node-gpu')).toBe(true);
    const broken = await import('../fixtures/broken-binding.mjs').catch((e: unknown) => e);
    expect(isNotInstalled(broken, '@tensorflow/tfjs-node-gpu')).toBe(false);
  });

  it('without tfjs-node packages picks wasm with convlens kernels', async () => {
    const installed = (pkg: string) => {
      try {
        createRequire(import.meta.url).resolve(pkg);
        return true;
      } catch {
        return false;
      }
    };
    if (installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node')) return; // a user's machine
    const info = await selectBackend({});
    expect(defaultCandidates.map((c) => c.id)).toEqual(['node-gpu', 'node', 'wasm', 'cpu']);
    expect(info.id).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(info.skipped.map((s) => s.id)).toEqual(['node-gpu', 'node']);
  });
});
