/**
 * The import graph of src/: no cycle (no module imports one that imports it back, directly or around a loop) and
 * no upward import between the layers (engine ← data, models ← train ← viz ← pipeline ← cli; render, manifest and
 * config are leaves the layers above them share). Read from the files' import and export-from statements and
 * dynamic import()s, types included: a type two modules share belongs in the lower one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');
const RANK: Record<string, number> = { engine: 0, data: 1, models: 1, render: 1, manifest: 1, train: 2, viz: 3, pipeline: 4, config: 5, cli: 6 };

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.(ts|mjs)$/.test(e.name) ? [p] : [];
  });
}

/** Relative imports of each file under src/, as paths relative to src/. */
export function importGraph(root = SRC): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const statement = /(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const file of sources(root)) {
    const text = readFileSync(file, 'utf8');
    const deps = new Set<string>();
    for (const m of text.matchAll(statement)) {
      const target = normalize(join(dirname(file), m[1] ?? m[2]));
      if (/\.(ts|mjs)$/.test(target)) deps.add(relative(root, target));
    }
    graph.set(relative(root, file), [...deps]);
  }
  return graph;
}

/** Strongly connected components with more than one module (Tarjan), or a module importing itself. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(c.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

export function upwardImports(graph: Map<string, string[]>): string[] {
  const layer = (p: string) => RANK[p.split('/')[0]];
  const out: string[] = [];
  for (const [from, deps] of graph) {
    for (const to of deps) {
      const a = layer(from);
      const b = layer(to);
      if (a != null && b != null && b > a) out.push(`${from} → ${to}`);
    }
  }
  return out;
}

describe('the import graph of src/', () => {
  it('finds a cycle and an upward import when there is one (the checks themselves)', () => {
    const g = new Map([['viz/a.ts', ['viz/b.ts']], ['viz/b.ts', ['viz/c.ts']], ['viz/c.ts', ['viz/a.ts', 'pipeline/x.ts']], ['pipeline/x.ts', []]]);
    expect(cycles(g)).toEqual([['viz/a.ts', 'viz/b.ts', 'viz/c.ts']]);
    expect(upwardImports(g)).toEqual(['viz/c.ts → pipeline/x.ts']);
  });

  it('has no cycle', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(100);
    expect(cycles(graph)).toEqual([]);
  });

  it('has no upward import between the layers', () => {
    expect(upwardImports(importGraph())).toEqual([]);
  });
});
