/**
 * IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed.
 *
 * Layout: magic [0, 0, type, ndims], then ndims big-endian uint32 dimensions, then the data in row-major order.
 * Only type 0x08 (unsigned byte) is used by MNIST-style data sets; the other IDX types are read too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export class DataError extends Error {}

export interface IdxArray {
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: 'uint8', bytes: 1 },
  0x09: { name: 'int8', bytes: 1 },
  0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 },
  0x0d: { name: 'float32', bytes: 4 },
  0x0e: { name: 'float64', bytes: 8 },
};

/** Parse IDX bytes (gzip detected by its magic). `file` is only used in error messages. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new DataError(`${file}: gzip data is corrupt or truncated (${(err as Error).message}); download it again`);
    }
  }
  if (buf.length < 4) throw new DataError(`${file}: too short to be an IDX file (${buf.length} bytes)`);
  if (buf[0] !== 0 || buf[1] !== 0 || TYPES[buf[2]] == null || buf[3] < 1 || buf[3] > 8) {
    const magic = [...buf.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DataError(
      `${file}: not an IDX file (magic bytes ${magic}; expected 00 00 <type 08-0e> <1-8 dims>). ` +
        'Is this the right file, or an HTML error page saved by a failed download?',
    );
  }
  const type = TYPES[buf[2]];
  const ndims = buf[3];
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) throw new DataError(`${file}: truncated IDX header (${buf.length} bytes)`);
  const shape: number[] = [];
  for (let i = 0; i < ndims; i++) shape.push(buf.readUInt32BE(4 + 4 * i));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.bytes;
  if (buf.length !== expected) {
    throw new DataError(
      `${file}: IDX dimensions [${shape.join(', ')}] need ${expected} bytes but the file has ${buf.length}` +
        (buf.length < expected ? ' (truncated: download it again)' : ' (trailing bytes)'),
    );
  }
  const body = buf.subarray(headerBytes);
  let data: IdxArray['data'];
  if (type.name === 'uint8') data = new Uint8Array(body);
  else if (type.name === 'int8') data = new Int8Array(body.buffer.slice(body.byteOffset, body.byteOffset + count));
  else {
    // Multi-byte IDX values are big-endian.
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (type.name === 'int16') data = Int16Array.from({ length: count }, (_, i) => view.getInt16(2 * i));
    else if (type.name === 'int32') data = Int32Array.from({ length: count }, (_, i) => view.getInt32(4 * i));
    else if (type.name === 'float32') data = Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i));
    else data = Float64Array.from({ length: count }, (_, i) => view.getFloat64(8 * i));
  }
  return { shape, data };
}

export function readIdx(file: string): IdxArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new DataError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseIdx(bytes, file);
}

/** Images [N, H, W] as uint8 and labels [N]: one split of an MNIST-style data set. */
export interface MnistSplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

const STEMS = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

function findFile(dir: string, stem: string): string | undefined {
  for (const name of [`${stem}.gz`, stem, stem.replace(/-idx(\d)-/, '.idx$1-')]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * The folder holding Fashion-MNIST: `configured` (a config path), then $CONVLENS_FASHION_MNIST,
 * then Debian's dataset-fashion-mnist. Throws a DataError saying how to get the data otherwise.
 */
export function locateFashionMnist(configured?: string, env = process.env): string {
  const candidates: Array<[string, string]> = [];
  if (configured) candidates.push([configured, 'config']);
  if (env.CONVLENS_FASHION_MNIST) candidates.push([env.CONVLENS_FASHION_MNIST, 'CONVLENS_FASHION_MNIST']);
  candidates.push([DEBIAN_FASHION_MNIST, 'Debian package dataset-fashion-mnist']);
  for (const [dir, source] of candidates) {
    const complete = [...STEMS.train, ...STEMS.test].every((stem) => findFile(dir, stem));
    if (complete) return dir;
    if (source !== 'Debian package dataset-fashion-mnist' && existsSync(dir)) {
      throw new DataError(
        `Fashion-MNIST folder ${dir} (from ${source}) lacks some of ` +
          `${[...STEMS.train, ...STEMS.test].map((s) => `${s}.gz`).join(', ')}`,
      );
    }
  }
  throw new DataError(
    'Fashion-MNIST not found. Looked in: ' +
      candidates.map(([d, s]) => `${d} (${s})`).join(', ') +
      '. Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or download the four ' +
      '*-ubyte.gz files from the Fashion-MNIST project and set CONVLENS_FASHION_MNIST=/path/to/folder.',
  );
}

/** Read one split from an MNIST-style folder, checking that images and labels agree. */
export function readMnistSplit(dir: string, split: 'train' | 'test'): MnistSplit {
  const [imgStem, lblStem] = STEMS[split];
  const imgFile = findFile(dir, imgStem) ?? join(dir, `${imgStem}.gz`);
  const lblFile = findFile(dir, lblStem) ?? join(dir, `${lblStem}.gz`);
  const images = readIdx(imgFile);
  const labels = readIdx(lblFile);
  if (images.shape.length !== 3 || !(images.data instanceof Uint8Array)) {
    throw new DataError(`${imgFile}: expected uint8 images [N, H, W], found [${images.shape.join(', ')}]`);
  }
  if (labels.shape.length !== 1 || !(labels.data instanceof Uint8Array)) {
    throw new DataError(`${lblFile}: expected uint8 labels [N], found [${labels.shape.join(', ')}]`);
  }
  if (images.shape[0] !== labels.shape[0]) {
    throw new DataError(`${imgFile} has ${images.shape[0]} images but ${lblFile} has ${labels.shape[0]} labels`);
  }
  return {
    images: images.data,
    labels: labels.data,
    count: images.shape[0],
    height: images.shape[1],
    width: images.shape[2],
  };
}
