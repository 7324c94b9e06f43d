import { describe, expect, it } from 'vitest';
import { layoutArchitecture } from '../src/site/architecture.ts';

const L = (name: string, inbound: string[]) => ({ name, slug: name, className: 'X', outputShape: [1], inbound });

describe('architecture layout', () => {
  it('rows by longest path; a residual shortcut skips rows and is marked', () => {
    // in → a → b → add(a, b): the shortcut a → add skips b's row.
    const { nodes, edges } = layoutArchitecture([L('in', []), L('a', ['in']), L('b', ['a']), L('add', ['a', 'b'])]);
    expect(nodes.map((n) => [n.name, n.depth])).toEqual([['in', 0], ['a', 1], ['b', 2], ['add', 3]]);
    expect(edges.filter((e) => e.skip).map((e) => `${e.from.name}→${e.to.name}`)).toEqual(['a→add']);
    expect(edges).toHaveLength(4);
  });

  it('parallel branches share a row side by side', () => {
    const { nodes } = layoutArchitecture([L('in', []), L('l', ['in']), L('r', ['in']), L('cat', ['l', 'r'])]);
    const [l, r] = ['l', 'r'].map((n) => nodes.find((x) => x.name === n)!);
    expect(l.y).toBe(r.y);
    expect(r.x).toBeGreaterThan(l.x);
  });
});
