/** The e2e tests' tools: a minimal static file server for the built site (on 127.0.0.1, a free port, an optional sub-path) and Debian's Chromium. */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { createGzip } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.webp': 'image/webp', '.jpg': 'image/jpeg', '.json': 'application/json', '.npy': 'application/octet-stream',
  '.xml': 'application/xml', '.wasm': 'application/wasm', '.pf_meta': 'application/octet-stream',
};

/** The types a static host such as GitHub Pages sends gzip-compressed to a browser that accepts it. */
const COMPRESSED = new Set(['.html', '.js', '.css', '.svg', '.json', '.xml']);

/**
 * Serve `root` at `base` ('/' or '/repo/', as GitHub project Pages do): paths outside the base are 404. Text is
 * gzip-compressed for clients that accept it, as GitHub Pages and other static hosts do, so Lighthouse measures
 * the page as users receive it (an 83 KB layer-rich model page is 13 KB on the wire).
 */
export async function serve(root: string, base = '/'): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const full = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (!full.startsWith(base)) {
      res.writeHead(404).end();
      return;
    }
    const path = `/${full.slice(base.length)}`;
    let file = normalize(join(root, path));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/html' });
      if (existsSync(join(root, '404.html'))) createReadStream(join(root, '404.html')).pipe(res);
      else res.end();
      return;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    if (COMPRESSED.has(extname(file)) && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      res.writeHead(200, { 'content-type': type, 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
      createReadStream(file).pipe(createGzip()).pipe(res);
      return;
    }
    res.writeHead(200, { 'content-type': type });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** Debian's Chromium, headless, with nothing reaching outside the machine (the e2e tests' browser). */
export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
