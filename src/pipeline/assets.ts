/**
 * Writing a model's assets under public/generated/<model>/: images queued for encoding on sharp's threads and .npy
 * arrays, each returning its manifest entry at once; `flush` waits for the encodings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Asset } from '../manifest/schema.ts';
import { encode, type Raster, upscaleFor } from '../render/image.ts';
import { npyBytes } from '../render/npy.ts';

export class AssetWriter {
  private readonly pending: Promise<void>[] = [];
  /** Folders made so far (a deep model writes thousands of files into a few hundred folders). */
  private readonly folders = new Set<string>();
  constructor(
    private readonly publicDir: string,
    private readonly base: string,
  ) {}

  /**
   * Encode and queue a raster; returns its manifest entry at once. Page images are lossless WebP (30–60 % smaller
   * than PNG); images that pages use as their Open Graph preview stay PNG, which every link-preview service reads.
   */
  image(rel: string, r: Raster, alt: string, format: 'png' | 'webp' | 'jpg' = 'webp'): Asset {
    const scale = upscaleFor(r.width, r.height);
    const url = `/generated/${this.base}/${rel}.${format}`;
    const path = join(this.publicDir, url);
    this.folder(path);
    // Encoding runs on sharp's threads; the write is synchronous so that thousands of queued images never hold
    // thousands of open files (EMFILE on a 21,000-channel MobileNetV2).
    this.pending.push(encode(r, format, scale).then((b) => writeFileSync(path, b)));
    return { src: url, width: r.width * scale, height: r.height * scale, alt };
  }

  npy(rel: string, data: Float32Array, shape: number[]): string {
    const url = `/generated/${this.base}/${rel}.npy`;
    const path = join(this.publicDir, url);
    this.folder(path);
    writeFileSync(path, npyBytes(data, shape));
    return url;
  }

  private folder(path: string): void {
    const dir = join(path, '..');
    if (this.folders.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    this.folders.add(dir);
  }

  async flush(): Promise<void> {
    await Promise.all(this.pending);
  }
}
