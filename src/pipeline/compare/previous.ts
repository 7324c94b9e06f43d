/**
 * The previous report `--compare` reads: an earlier site's folder or the URL of a published one. Only what the
 * comparison needs is read (the report.json files and the .npy maps of matched samples), with a timeout per
 * request; nothing of it is copied into the new site.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';

export interface PreviousSite {
  /** What the site publishes about it: the URL, or the folder's name (never a path of this machine). */
  readonly label: string;
  /** A file of the site by its site-relative path; undefined when the site has no such file. */
  bytes(rel: string): Promise<Uint8Array | undefined>;
}

/** The previous site cannot be read at all (unreachable host, timeout, not a folder): the report still builds. */
export class PreviousUnavailable extends Error {}

const TIMEOUT_MS = Number(process.env.CONVLENS_COMPARE_TIMEOUT_MS) || 20_000;

/** What a site given as `spec` is called in what the site publishes: the URL, or the folder's name. */
export function previousLabel(spec: string): string {
  return /^https?:\/\//i.test(spec) ? new URL(spec.endsWith('/') ? spec : `${spec}/`).href : basename(resolve(spec));
}

export function openPrevious(spec: string, cwd: string): PreviousSite {
  if (/^https?:\/\//i.test(spec)) return remoteSite(spec);
  const dir = resolve(cwd, spec);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new PreviousUnavailable(`${spec}: no such folder (give an earlier site's folder, e.g. a kept copy of dist/, or the http(s) URL of a published report)`);
  }
  return {
    label: previousLabel(dir),
    async bytes(rel) {
      const path = join(dir, rel.replace(/^\/+/, ''));
      if (relative(dir, path).startsWith('..')) return undefined; // a report.json pointing outside its site
      try {
        return readFileSync(path);
      } catch {
        return undefined;
      }
    },
  };
}

function remoteSite(url: string): PreviousSite {
  const root = new URL(url.endsWith('/') ? url : `${url}/`);
  return {
    label: previousLabel(url),
    async bytes(rel) {
      const target = new URL(rel.replace(/^\/+/, ''), root);
      if (target.origin !== root.origin || !target.pathname.startsWith(root.pathname)) return undefined;
      let res: Response;
      try {
        res = await fetch(target, { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'follow' });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        const why = e.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.message);
        throw new PreviousUnavailable(`${target.href}: ${why}`);
      }
      if (res.status === 404 || res.status === 410) return undefined;
      if (!res.ok) throw new PreviousUnavailable(`${target.href}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/** A JSON file of the previous site, or undefined when it has none; a file that is not JSON says so. */
export async function previousJson(site: PreviousSite, rel: string): Promise<unknown> {
  const b = await site.bytes(rel);
  if (!b) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(b));
  } catch {
    throw new PreviousUnavailable(`${site.label}: ${rel} is not JSON (is it a convlens site?)`);
  }
}
