/**
 * changes.md: the comparison as a CI job summary or a pull-request comment — flipped predictions first, then
 * accuracy, explanations and architecture, each model linking to its What changed page.
 */
import type { Changes, ModelChanges } from '../../manifest/changes.ts';

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const cell = (t: string) => t.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** `link(path)` turns a site path ('/models/x/changes/') into the link the summary uses (absolute when the site's URL is known). */
export function changesMarkdown(changes: Changes, link: (path: string) => string): string {
  const lines = [`## convlens: what changed since the previous report`, ''];
  if (changes.status === 'unavailable') {
    lines.push(`No comparison: ${changes.note ?? 'the previous report could not be read'}. This report was built without one.`, '');
    return `${lines.join('\n')}\n`;
  }
  lines.push(`Compared with ${changes.previous}.`, '');
  const flips = changes.models.reduce((n, m) => n + m.flipped.length, 0);
  lines.push(flips ? `**${flips} prediction${flips > 1 ? 's' : ''} flipped.**` : 'No prediction flipped.', '');
  for (const m of changes.models) lines.push(...modelSection(m, link), '');
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

function modelSection(m: ModelChanges, link: (path: string) => string): string[] {
  const title = `### ${cell(m.title)}`;
  if (m.status === 'new') return [title, 'New model: not in the previous report.'];
  if (m.status === 'removed') return [title, 'Removed: in the previous report, not in this one.'];
  if (m.status === 'unreadable') return [title, `Not compared: ${m.note}.`];
  const out = [title, ''];
  if (m.flipped.length) {
    out.push('| sample | before | after |', '|---|---|---|');
    for (const f of m.flipped) {
      const name = f.slug ? `[${cell(f.sample)}](${link(`/models/${m.id}/samples/${f.slug}/`)})` : cell(f.sample);
      out.push(`| ${name} | ${cell(f.before.label ?? '—')} ${pct(f.before.probability)} | ${cell(f.after.label ?? '—')} ${pct(f.after.probability)} |`);
    }
    out.push('');
  } else out.push(`No prediction flipped (${m.samples.compared} samples compared).`, '');
  const facts: string[] = [];
  if (m.accuracy) facts.push(`accuracy ${pct(m.accuracy.before)} → ${pct(m.accuracy.after)}`);
  const mistakes = m.confusion.filter((x) => x.true !== x.predicted).sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before));
  if (mistakes.length) facts.push(`confusions changed: ${mistakes.slice(0, 5).map((x) => `${x.true} as ${x.predicted} ${x.before} → ${x.after}`).join(', ')}${mistakes.length > 5 ? `, and ${mistakes.length - 5} more` : ''}`);
  if (m.recall.length) facts.push(`recall changed for ${m.recall.map((r) => `${r.class} (${pct(r.before)} → ${pct(r.after)})`).join(', ')}`);
  if (m.samples.added.length || m.samples.removed.length) facts.push(`samples not compared: ${m.samples.added.length} new, ${m.samples.removed.length} only in the previous report`);
  const a = m.architecture;
  if (a && (a.added.length || a.removed.length || a.changed.length)) {
    facts.push(`architecture: ${[a.added.length && `added ${a.added.map((l) => l.name).join(', ')}`, a.removed.length && `removed ${a.removed.map((l) => l.name).join(', ')}`, a.changed.length && `reshaped ${a.changed.map((l) => l.name).join(', ')}`].filter(Boolean).join('; ')} (${a.params[0].toLocaleString('en-US')} → ${a.params[1].toLocaleString('en-US')} parameters)`);
  }
  if (m.explanations.length) {
    const low = [...m.explanations].sort((x, y) => x.spearman - y.spearman)[0];
    const moved = m.explanations.reduce((n, e) => n + e.peakMoved, 0);
    facts.push(`explanations: median Spearman ρ of old and new maps ${low.spearman.toFixed(2)} at the lowest (${cell(low.title)}), ${moved} peak${moved === 1 ? '' : 's'} moved over ${m.explanations.length} methods`);
  }
  out.push(...facts.map((f) => `- ${f}`));
  if (m.note) out.push(`- note: ${m.note}`);
  out.push('', `[What changed in ${cell(m.title)}](${link(`/models/${m.id}/changes/`)})`);
  return out;
}
