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
  // From the page's title to the end of the attribution maps' grid.
  const shot = await page.screenshot({ fullPage: true });
  const grid = await page.locator('figure, .maps, [data-maps]').last().boundingBox();
  const height = Math.min(2400, Math.ceil((grid ? grid.y + grid.height : 1600) + 24));
  const meta = await sharp(shot).metadata();
  await sharp(shot).extract({ left: 0, top: 0, width: meta.width!, height: Math.min(height, meta.height!) }).png({ compressionLevel: 9, palette: true, quality: 90 }).toFile('docs/sample-page.png');
  console.log(`wrote docs/sample-page.png (${first})`);
} finally {
  await browser.close();
  await server.close();
}
