/**
 * Join the manifests of several shards (`convlens compute --shard k/n`) into one: every model once, in the
 * report's order when it is known (else shard by shard), the methods of the first shard (all shards run one
 * registry), and the engines of all shards.
 */
import type { Manifest } from '../manifest/schema.ts';

export function mergeManifests(manifests: Manifest[], order?: string[]): Manifest {
  if (manifests.length === 0) throw new Error('merge: no shard manifests to join');
  const seen = new Map<string, number>();
  const models: Manifest['models'] = [];
  manifests.forEach((m, i) => {
    for (const model of m.models) {
      if (seen.has(model.slug)) {
        throw new Error(`merge: model '${model.slug}' is in shard ${seen.get(model.slug)! + 1} and shard ${i + 1}; were the shards computed with different --shard n or configs?`);
      }
      seen.set(model.slug, i);
      models.push(model);
    }
  });
  const methodIds = (m: Manifest) => m.methods.map((x) => x.id).join(',');
  const methods = manifests.find((m) => m.models.length > 0)?.methods ?? manifests[0].methods;
  for (const [i, m] of manifests.entries()) {
    if (m.models.length > 0 && methodIds(m) !== methods.map((x) => x.id).join(',')) {
      throw new Error(`merge: shard ${i + 1} ran other attribution methods (${methodIds(m)}) than the others; compute every shard with one convlens version`);
    }
  }
  if (order) {
    const rank = new Map(order.map((s, i) => [s, i]));
    models.sort((a, b) => (rank.get(a.slug) ?? Infinity) - (rank.get(b.slug) ?? Infinity));
  }
  const backends = [...new Set(manifests.filter((m) => m.models.length > 0).map((m) => m.engine.backend))];
  const lines = [...new Set(manifests.filter((m) => m.models.length > 0).map((m) => m.engine.line))];
  return {
    version: 1,
    engine: { backend: backends.join(',') || manifests[0].engine.backend, line: lines.join(' | ') || manifests[0].engine.line },
    methods,
    models,
  };
}
