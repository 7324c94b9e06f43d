/**
 * Static SVG charts with Observable Plot, rendered in Node through linkedom's DOM (no browser, no script in
 * the page). Series are labelled at their last point instead of with an HTML legend, so each chart is one
 * self-contained SVG file.
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';

export interface Series {
  name: string;
  points: Array<{ x: number; y: number }>;
}

const { document } = parseHTML('<!doctype html><html><body></body></html>');

/** A line chart of several series over epochs. */
export function lineChart(series: Series[], opts: { title: string; yLabel: string; width?: number; height?: number; yDomain?: [number, number] }): string {
  const rows = series.flatMap((s) => s.points.map((p) => ({ ...p, series: s.name })));
  const last = series.filter((s) => s.points.length).map((s) => ({ ...s.points[s.points.length - 1], series: s.name }));
  const svg = Plot.plot({
    document,
    width: opts.width ?? 560,
    height: opts.height ?? 260,
    marginRight: 90,
    style: { fontFamily: 'system-ui, sans-serif', fontSize: '11px', background: 'white', color: '#222' },
    x: { label: 'epoch', tickFormat: 'd', ticks: Math.min(10, Math.max(...series.map((s) => s.points.length))) },
    y: { label: opts.yLabel, grid: true, domain: opts.yDomain },
    color: { domain: series.map((s) => s.name), range: ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'] },
    marks: [
      Plot.lineY(rows, { x: 'x', y: 'y', stroke: 'series', strokeWidth: 2 }),
      Plot.dot(rows, { x: 'x', y: 'y', fill: 'series', r: 3 }),
      Plot.text(last, { x: 'x', y: 'y', text: 'series', fill: 'series', dx: 8, textAnchor: 'start' }),
    ],
  } as never) as unknown as { outerHTML: string; setAttribute(k: string, v: string): void };
  svg.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', opts.title);
  return svg.outerHTML;
}
