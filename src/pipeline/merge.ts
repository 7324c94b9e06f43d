/**
 * Join the manifests of several shards (`convlens compute --shard k/n`) into one: every model once, in the
 * report's order when it is known (else shard by shard), the methods of the first shard (all shards run one
 * registry), and the engines of all shards.
 */
import type { Manifest } from '../manifest/schema.ts';

type ModelReport = Manifest['models'][number];

/**
 * The parts of one model split by sample: part 1's report (layers, randomization, …) with every sample's
 * attributions (and faithfulness baselines) from the part that computed them.
 */
export function joinParts(parts: ModelReport[]): ModelReport {
  const slug = parts[0].slug;
  const count = parts[0].part!.count;
  const byIndex = new Map(parts.map((p) => [p.part?.index, p]));
  if (parts.some((p) => p.part?.count !== count) || byIndex.size !== parts.length || parts.length !== count) {
    throw new Error(`merge: model '${slug}' has parts ${parts.map((p) => `${p.part?.index}/${p.part?.count}`).join(', ')}; merge the work dirs of all ${count} shards, each once`);
  }
  const base = byIndex.get(1)!;
  const ids = base.samples.map((s) => s.id).join('\n');
  for (const p of parts) {
    if (p.samples.map((s) => s.id).join('\n') !== ids) throw new Error(`merge: the parts of '${slug}' explain different samples; compute every shard with the same model, data and config`);
  }
  const { part: _part, ...rest } = base;
  // Which part explained each sample: the positions each part lists (older manifests: round-robin).
  const owner = new Map<number, ModelReport>();
  for (const p of parts) for (const i of p.part?.explained ?? p.samples.map((_, i) => i).filter((i) => i % count === p.part!.index - 1)) owner.set(i, p);
  const missing = base.samples.findIndex((_, i) => !owner.has(i));
  if (missing >= 0) throw new Error(`merge: no part of '${slug}' explained sample ${base.samples[missing].id}; compute every shard with the same convlens version and config`);
  // A sample's maps and its faithfulness baselines come from the part that explained it.
  return {
    ...rest,
    samples: base.samples.map((s, i) => {
      const { attributions, baselines } = owner.get(i)!.samples[i];
      const { baselines: _unused, ...plain } = s;
      return { ...plain, attributions, ...(baselines ? { baselines } : {}) };
    }),
  };
}

export function mergeManifests(manifests: Manifest[], order?: string[]): Manifest {
  if (manifests.length === 0) throw new Error('merge: no shard manifests to join');
  const seen = new Map<string, number>();
  const models: Manifest['models'] = [];
  const split = new Map<string, ModelReport[]>();
  manifests.forEach((m, i) => {
    for (const model of m.models) {
      if (model.part) {
        if (!split.has(model.slug)) models.push(model);
        split.set(model.slug, [...(split.get(model.slug) ?? []), model]);
        continue;
      }
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
  for (const [slug, parts] of split) {
    if (seen.has(slug)) throw new Error(`merge: model '${slug}' is whole in shard ${seen.get(slug)! + 1} and split in others; compute every shard with one config`);
    models[models.findIndex((m) => m.slug === slug)] = joinParts(parts);
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
