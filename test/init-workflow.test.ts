/**
 * The GitHub Actions workflow `convlens init` writes, read as YAML the way Actions reads it: builds on push and on
 * pull requests, compares with the published report, appends changes.md to the job summary even when the report
 * fails, and publishes from main only.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { workflowText } from '../src/cli/init.ts';

interface Step { uses?: string; run?: string; if?: string; id?: string; env?: Record<string, string> }

describe('the workflow init writes', () => {
  const wf = parse(workflowText({ lockfile: true })) as {
    on: Record<string, unknown>; concurrency: { group: string }; jobs: { build: { steps: Step[] }; deploy: { if?: string; needs: string } };
  };
  const steps = wf.jobs.build.steps;

  it('runs on pushes to main and on pull requests; a pull request never cancels or replaces the published site', () => {
    expect(Object.keys(wf.on).sort()).toEqual(['pull_request', 'push', 'workflow_dispatch']);
    expect(wf.concurrency.group).toContain("github.event_name == 'pull_request' && github.ref || 'pages'");
    expect(wf.jobs.deploy.if).toBe("github.event_name != 'pull_request'");
    expect(steps.find((s) => s.uses?.startsWith('actions/upload-pages-artifact'))?.if).toBe("github.event_name != 'pull_request'");
  });

  it('compares the report with the published site and writes changes.md to the job summary, also after a failure', () => {
    const pages = steps.findIndex((s) => s.id === 'pages');
    const report = steps.findIndex((s) => s.run?.startsWith('npx convlens report'));
    expect(pages).toBeGreaterThanOrEqual(0);
    expect(report).toBeGreaterThan(pages);
    expect(steps[report].run).toBe('npx convlens report --compare "${{ steps.pages.outputs.base_url }}"');
    expect(steps[report].env?.CONVLENS_SITE_URL).toBe('${{ steps.pages.outputs.base_url }}');
    const summary = steps[report + 1];
    expect(summary.if).toBe('always()');
    expect(summary.run).toContain('cat dist/changes.md >> "$GITHUB_STEP_SUMMARY"');
  });

  it('installs with npm ci when the project has a lockfile, else npm install', () => {
    expect(steps.some((s) => s.run === 'npm ci')).toBe(true);
    expect((parse(workflowText({ lockfile: false })) as typeof wf).jobs.build.steps.some((s) => s.run === 'npm install')).toBe(true);
  });
});
