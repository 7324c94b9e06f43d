/**
 * Layout of the architecture diagram (like Keras plot_model(show_shapes=True)): one row per graph depth
 * (longest path from the input), nodes of equal depth side by side, edges that skip rows (residual shortcuts)
 * drawn as curves on the right. Pure data → coordinates; the component draws the SVG.
 */
export interface ArchLayer {
  name: string;
  slug: string;
  className: string;
  outputShape: (number | null)[];
  inbound: string[];
  /** The nested models the layer sits in, outermost first. */
  parents?: string[];
}

/** A nested model's frame around its layers (as Keras's plot_model with expand_nested). */
export interface ArchGroup {
  name: string;
  /** Nesting level: 1 for a model inside the top model. */
  level: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ArchNode extends ArchLayer {
  x: number;
  y: number;
  depth: number;
}

export interface ArchEdge {
  from: ArchNode;
  to: ArchNode;
  /** True when the edge skips at least one row. */
  skip: boolean;
}

export const NODE_W = 230;
export const NODE_H = 46;
const GAP_X = 30;
const GAP_Y = 22;
/** Room on the left for the frames of nested models. */
const LEFT = 16;

export function layoutArchitecture(layers: ArchLayer[]): { nodes: ArchNode[]; edges: ArchEdge[]; groups: ArchGroup[]; width: number; height: number } {
  const depth = new Map<string, number>();
  for (const l of layers) {
    const d = l.inbound.length ? Math.max(...l.inbound.map((n) => (depth.get(n) ?? -1) + 1)) : 0;
    depth.set(l.name, d);
  }
  const rows = new Map<number, ArchLayer[]>();
  for (const l of layers) {
    const d = depth.get(l.name)!;
    if (!rows.has(d)) rows.set(d, []);
    rows.get(d)!.push(l);
  }
  const maxPerRow = Math.max(...[...rows.values()].map((r) => r.length));
  const width = LEFT + maxPerRow * NODE_W + (maxPerRow - 1) * GAP_X + 80;
  const nodes: ArchNode[] = [];
  for (const [d, row] of [...rows.entries()].sort((a, b) => a[0] - b[0])) {
    const rowWidth = row.length * NODE_W + (row.length - 1) * GAP_X;
    row.forEach((l, i) => nodes.push({ ...l, depth: d, x: LEFT + (width - LEFT - 80 - rowWidth) / 2 + i * (NODE_W + GAP_X), y: 10 + d * (NODE_H + GAP_Y) }));
  }
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const edges: ArchEdge[] = nodes.flatMap((to) =>
    to.inbound.map((name) => byName.get(name)).filter((f): f is ArchNode => f != null).map((from) => ({ from, to, skip: to.depth - from.depth > 1 })),
  );
  const height = 20 + (Math.max(...nodes.map((n) => n.depth)) + 1) * (NODE_H + GAP_Y);
  return { nodes, edges, groups: nestedGroups(nodes), width, height };
}

/** One frame per nested model, around the boxes of its layers, inner frames inset from outer ones. */
function nestedGroups(nodes: ArchNode[]): ArchGroup[] {
  const members = new Map<string, { level: number; nodes: ArchNode[] }>();
  for (const n of nodes) {
    (n.parents ?? []).forEach((p, i) => {
      const key = (n.parents ?? []).slice(0, i + 1).join('/');
      if (!members.has(key)) members.set(key, { level: i + 1, nodes: [] });
      members.get(key)!.nodes.push(n);
    });
  }
  return [...members.entries()].map(([key, g]) => {
    const pad = Math.max(2, 12 - 4 * g.level);
    const x0 = Math.min(...g.nodes.map((n) => n.x)) - pad;
    const y0 = Math.min(...g.nodes.map((n) => n.y)) - pad;
    const x1 = Math.max(...g.nodes.map((n) => n.x + NODE_W)) + pad;
    const y1 = Math.max(...g.nodes.map((n) => n.y + NODE_H)) + pad;
    return { name: key.split('/').pop()!, level: g.level, x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  });
}

export function shapeText(shape: (number | null)[]): string {
  return `(${['None', ...shape.map((d) => (d == null ? 'None' : String(d)))].join(', ')})`;
}
