/**
 * Image folders like Keras's `image_dataset_from_directory`: one sub-folder per class (class names from the
 * folder names, sorted), images decoded with sharp (jpg, png, webp, gif, tiff, avif; bmp through bmp-ts),
 * converted to grayscale or RGB and resized to the model's input. A flat folder of images (no sub-folders) is
 * an unlabeled set, for explaining a loaded model. Unreadable files are listed, by path, in one error — or
 * skipped with a warning when `skipInvalid` is set.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join, relative, resolve } from 'node:path';
import { decode as decodeBmp } from 'bmp-ts';
import sharp from 'sharp';
import { DataError } from './idx.ts';
import { type Dataset, type Scaling, scaling } from './dataset.ts';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff', '.avif'];

export type Interpolation = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos3';
const KERNELS: Record<Interpolation, keyof sharp.KernelEnum> = {
  nearest: 'nearest',
  bilinear: 'linear',
  bicubic: 'cubic',
  lanczos3: 'lanczos3',
};

export interface FolderOptions {
  dir: string;
  /** [height, width] of the decoded images. */
  imageSize: [number, number];
  channels: 1 | 3;
  interpolation?: Interpolation;
  /** Skip unreadable files with a warning instead of failing. */
  skipInvalid?: boolean;
  warn?: (message: string) => void;
  /** Largest accepted image, in pixels, before decoding (a declared 20000x20000 is refused). */
  maxPixels?: number;
  /** How bytes become model inputs (default '/255' → [0, 1]). */
  scaling?: Scaling;
  /** A flat (unlabeled) folder: decode only the first this many images, in file-name order. */
  limitUnlabeled?: number;
}

/** Ids are paths relative to the folder. */
export interface FolderDataset extends Dataset {
  files: string[];
  /** False for a flat folder of unlabeled images (labels are then -1). */
  labeled: boolean;
  /** Images in the folder (more than `count` when `limitUnlabeled` left some out). */
  total: number;
}

function listImages(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase()))
    .map((e) => join(dir, e.name))
    .sort();
}

/** Every image file of a folder: its own and those of its class sub-folders, sorted. */
export function listImageFiles(dir: string): string[] {
  const root = resolve(dir);
  const subs = readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  return [...listImages(root), ...subs.flatMap((s) => listImages(join(root, s)))];
}

/** Decode one image file to raw pixels of the requested size and channels. */
export async function decodeImage(
  file: string,
  [height, width]: [number, number],
  channels: 1 | 3,
  interpolation: Interpolation = 'bilinear',
  maxPixels = 64_000_000,
): Promise<Uint8Array> {
  const bytes = readFileSync(file);
  if (bytes.length === 0) throw new Error('empty file (0 bytes)');
  let img: sharp.Sharp;
  if (extname(file).toLowerCase() === '.bmp') {
    if (bytes.length < 26 || bytes.toString('latin1', 0, 2) !== 'BM') throw new Error('not a BMP file (no "BM" signature)');
    const declared = Math.abs(bytes.readInt32LE(18)) * Math.abs(bytes.readInt32LE(22));
    if (declared > maxPixels) throw new Error(`declares ${bytes.readInt32LE(18)}x${Math.abs(bytes.readInt32LE(22))} pixels, over the limit of ${maxPixels}`);
    // bmp-ts gives RGBA with alpha 0 for 24-bit files: treat BMPs as opaque and keep RGB.
    const bmp = decodeBmp(bytes, { toRGBA: true });
    const rgb = Buffer.alloc(bmp.width * bmp.height * 3);
    for (let i = 0; i < bmp.width * bmp.height; i++) rgb.set(bmp.data.subarray(i * 4, i * 4 + 3), i * 3);
    img = sharp(rgb, { raw: { width: bmp.width, height: bmp.height, channels: 3 } });
  } else {
    // The header first: a declared 20000x20000 is refused before any pixel is decoded.
    let meta: sharp.Metadata;
    try {
      meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (err) {
      throw new Error(`cannot be read as an image (${(err as Error).message.split('\n')[0]})`);
    }
    if ((meta.width ?? 0) * (meta.height ?? 0) > maxPixels) {
      throw new Error(`declares ${meta.width}x${meta.height} pixels, over the limit of ${maxPixels}; downscale it`);
    }
    img = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' });
  }
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await img
    .flatten({ background: '#000000' })
    .resize(width, height, { fit: 'fill', kernel: KERNELS[interpolation] })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`cannot be read as an image (${(err as Error).message.split('\n')[0]})`);
  }
  const { data, info } = decoded;
  const px = info.width * info.height;
  const src = (i: number, c: number) => data[i * info.channels + Math.min(c, info.channels - 1)];
  const out = new Uint8Array(px * channels);
  for (let i = 0; i < px; i++) {
    if (channels === 1) {
      // ITU-R 601-2 luma in PIL's integer arithmetic, as Keras's color_mode='grayscale' gets it.
      out[i] = (src(i, 0) * 19595 + src(i, 1) * 38470 + src(i, 2) * 7471 + 0x8000) >> 16;
    } else {
      for (let c = 0; c < 3; c++) out[i * 3 + c] = src(i, c);
    }
  }
  return out;
}

/** The folder's images: per class sub-folder (sorted; labeled) or the flat folder's own (unlabeled, label -1). */
function listFolder(root: string): { classDirs: string[]; files: string[]; labels: number[]; labeled: boolean } {
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch (err) {
    throw new DataError(`${root}: cannot read the image folder (${(err as NodeJS.ErrnoException).code})`);
  }
  const classDirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  const labeled = classDirs.length > 0;
  const files: string[] = [];
  const labels: number[] = [];
  if (labeled) {
    const empty: string[] = [];
    classDirs.forEach((name, label) => {
      const images = listImages(join(root, name));
      if (images.length === 0) empty.push(join(root, name));
      for (const f of images) {
        files.push(f);
        labels.push(label);
      }
    });
    if (empty.length > 0) {
      throw new DataError(
        `class folder${empty.length > 1 ? 's' : ''} without images (${IMAGE_EXTENSIONS.join(' ')}): ${empty.join(', ')}. ` +
          'Add images or remove the folder.',
      );
    }
  } else {
    for (const f of listImages(root)) {
      files.push(f);
      labels.push(-1);
    }
    if (files.length === 0) throw new DataError(`${root}: no images (${IMAGE_EXTENSIONS.join(' ')}) and no class sub-folders`);
  }
  return { classDirs, files, labels, labeled };
}

/** Every file decoded (16 at a time); a file that cannot be is named — an error, or a warning with skipInvalid. */
async function decodeAll(files: string[], root: string, opts: FolderOptions): Promise<Array<Uint8Array | undefined>> {
  const decoded: Array<Uint8Array | undefined> = new Array(files.length);
  const failures: string[] = [];
  const chunk = 16;
  for (let start = 0; start < files.length; start += chunk) {
    await Promise.all(
      files.slice(start, start + chunk).map(async (file, i) => {
        try {
          decoded[start + i] = await decodeImage(file, opts.imageSize, opts.channels, opts.interpolation, opts.maxPixels);
        } catch (err) {
          failures.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
        }
      }),
    );
  }
  if (failures.length > 0) {
    failures.sort();
    if (!opts.skipInvalid) {
      throw new DataError(
        `${failures.length} file${failures.length > 1 ? 's' : ''} in ${root} could not be read as images:\n  ` +
          `${failures.join('\n  ')}\nFix or remove them (the API's skipInvalid option skips them with a warning).`,
      );
    }
    for (const f of failures) opts.warn?.(`skipping ${f}`);
  }
  return decoded;
}

export async function loadImageFolder(opts: FolderOptions): Promise<FolderDataset> {
  const root = resolve(opts.dir);
  const { classDirs, files, labels, labeled } = listFolder(root);
  const total = files.length;
  if (!labeled && opts.limitUnlabeled != null && files.length > opts.limitUnlabeled) {
    files.length = opts.limitUnlabeled;
    labels.length = opts.limitUnlabeled;
  }
  const [h, w] = opts.imageSize;
  const size = h * w * opts.channels;
  const decoded = await decodeAll(files, root, opts);
  const keep = files.map((_, i) => i).filter((i) => decoded[i] != null);
  if (keep.length === 0) throw new DataError(`${root}: none of the ${files.length} files could be decoded`);
  const images = new Uint8Array(keep.length * size);
  keep.forEach((i, k) => images.set(decoded[i]!, k * size));
  return {
    name: basename(root),
    ...scaling(opts.scaling ?? '/255'),
    images,
    labels: Int32Array.from(keep.map((i) => labels[i])),
    count: keep.length,
    shape: [h, w, opts.channels],
    numClasses: Math.max(classDirs.length, 1),
    classes: classDirs,
    ids: keep.map((i) => relative(root, files[i])),
    files: keep.map((i) => files[i]),
    labeled,
    total: total - (files.length - keep.length),
  };
}
