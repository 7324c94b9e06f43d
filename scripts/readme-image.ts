/**
 * The README's picture (docs/sample-page.png): one sample page of the demo report — its top-5 predictions and the
 * sixteen attribution maps — screenshotted in Debian's Chromium from the built site. Run after `npm run report`:
 * `npx tsx scripts/readme-image.ts [dist] [model slug]` (default: the GAP CNN on shapes, its first sample).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { launchChromium, serve } from '../test/e2e/serve.ts';

const dist = resolve(process.argv[2] ?? 'dist');
const slug = process.argv[3] ?? 'gap-cnn-shapes';
if (!existsSync(join(dist, 'models', slug, 'index.html'))) throw new Error(`${dist}: no model '${slug}'; run npm run report first`);
const server = await serve(dist);
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`${server.url}/models/${slug}/`, { waitUntil: 'networkidle' });
  const first = await page.locator(`a[href*="/models/${slug}/samples/"]`).first().getAttribute('href');
  if (!first) throw new Error(`${slug}: its page links no sample`);
  await page.goto(new URL(first, server.url).href, { waitUntil: 'networkidle' });
  // Every map loaded (they are lazy below the fold).
  await page.evaluate(async () => {
    const images = [...document.querySelectorAll('img')];
    for (const img of images) img.loading = 'eager';
    await Promise.all(images.map((img) => (img.complete ? null : new Promise((r) => img.addEventListener('load', r, { once: true })))));
  });
  // From the page's title to the end of the last map's caption (the sixteenth method), then scaled to 900 px wide.
  const bottom = await page.evaluate(() => {
    const links = [...document.querySelectorAll('a[href$=".npy"]')];
    const r = links.at(-1)?.parentElement?.parentElement?.getBoundingClientRect();
    return r ? r.bottom + window.scrollY : 2400;
  });
  const shot = await page.screenshot({ fullPage: true });
  const meta = await sharp(shot).metadata();
  const height = Math.min(meta.height!, Math.ceil(bottom + 24));
  await sharp(shot).extract({ left: 0, top: 0, width: meta.width!, height }).resize({ width: 900 })
    .png({ compressionLevel: 9, palette: true, quality: 90 }).toFile('docs/sample-page.png');
  console.log(`wrote docs/sample-page.png (${first})`);
} finally {
  await browser.close();
  await server.close();
}
