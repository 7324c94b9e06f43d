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

describe('nested models in the diagram', () => {
  it('frames each nested model around its layers, inner frames inside outer ones', () => {
    const l = (name: string, inbound: string[], parents: string[] = []) => ({ name, slug: name, className: 'Dense', outputShape: [2], inbound, parents });
    const { groups, nodes } = layoutArchitecture([
      l('input', []), l('conv', ['input'], ['base']), l('inner', ['conv'], ['base', 'block']), l('pool', ['inner'], ['base']), l('head', ['pool'], ['top']),
    ]);
    expect(groups.map((g) => [g.name, g.level])).toEqual([['base', 1], ['block', 2], ['top', 1]]);
    const box = (name: string) => groups.find((g) => g.name === name)!;
    const node = (name: string) => nodes.find((n) => n.name === name)!;
    // 'base' encloses conv, inner and pool; 'block' only inner, and lies inside 'base'.
    for (const n of ['conv', 'inner', 'pool']) expect(node(n).y).toBeGreaterThan(box('base').y);
    expect(box('base').y + box('base').height).toBeGreaterThan(node('pool').y);
    expect(box('block').y).toBeGreaterThan(box('base').y);
    expect(box('block').x).toBeGreaterThan(box('base').x);
    expect(box('block').height).toBeLessThan(box('base').height);
    expect(box('top').y).toBeGreaterThan(box('base').y + box('base').height);
  });
});
