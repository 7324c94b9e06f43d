/**
 * A Content-Security-Policy for every built page, added after `astro build`: scripts only from the site
 * itself plus the SHA-256 hashes of that page's own inline scripts (no 'unsafe-inline' for scripts), nothing
 * loaded from other origins. Inline *style attributes* stay allowed (Starlight and Pagefind set them);
 * 'wasm-unsafe-eval' lets Pagefind's search index (WebAssembly) run.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Contents of inline (src-less) <script> elements, exactly as the browser hashes them. */
export function inlineScripts(html: string): string[] {
  const out: string[] = [];
  const re = /<script(\s[^>]*)?>([\s\S]*?)<\/script>/gi;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    const attrs = m[1] ?? '';
    if (/\ssrc\s*=/i.test(attrs) || /type\s*=\s*["']?application\/(ld\+)?json/i.test(attrs)) continue;
    out.push(m[2]);
  }
  return out;
}

export function policyFor(html: string): string {
  const hashes = [...new Set(inlineScripts(html).map((s) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`))];
  return [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval' ${hashes.join(' ')}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join('; ');
}

/** Insert the policy as the first element of <head>. */
export function withCsp(html: string): string {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${policyFor(html)}">`;
  return html.replace(/<head(\s[^>]*)?>/i, (h) => `${h}${meta}`);
}

/** Apply to every .html file under `dir`. Returns the number of pages. */
export function addCspToSite(dir: string): number {
  let n = 0;
  for (const rel of readdirSync(dir, { recursive: true }).map(String)) {
    if (!rel.endsWith('.html')) continue;
    const path = join(dir, rel);
    writeFileSync(path, withCsp(readFileSync(path, 'utf8')));
    n++;
  }
  return n;
}
