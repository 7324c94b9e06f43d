import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  DEBIAN_FASHION_MNIST, locateFashionMnist, parseIdx, readIdx, readMnistSplit,
} from '../../src/data/idx.ts';
import { existsSync } from 'node:fs';

/** Hand-built IDX bytes: magic 00 00 08 ndims, big-endian dims, then the bytes. */
function idx(shape: number[], data: number[], type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = type;
  header[3] = shape.length;
  shape.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'convlens-idx-'));
}

/** A complete little MNIST-style folder: n images of 2x3 and n labels. */
function writeMnist(dir: string, n = 4, gz = true): void {
  mkdirSync(dir, { recursive: true });
  const img = idx([n, 2, 3], Array.from({ length: n * 6 }, (_, i) => i % 256));
  const lbl = idx([n], Array.from({ length: n }, (_, i) => i % 10));
  const write = (name: string, b: Buffer) => writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(b) : b);
  for (const split of ['train', 't10k']) {
    write(`${split}-images-idx3-ubyte`, img);
    write(`${split}-labels-idx1-ubyte`, lbl);
  }
}

describe('IDX reader', () => {
  it('reads raw and gzip files to the same array', () => {
    const raw = idx([2, 2, 2], [0, 1, 2, 3, 250, 251, 252, 255]);
    const a = parseIdx(raw, 'raw');
    const b = parseIdx(gzipSync(raw), 'gz');
    expect(a.shape).toEqual([2, 2, 2]);
    expect([...a.data]).toEqual([0, 1, 2, 3, 250, 251, 252, 255]);
    expect([...b.data]).toEqual([...a.data]);
  });

  it('reads big-endian multi-byte types', () => {
    const body = Buffer.alloc(8);
    body.writeInt32BE(-5, 0);
    body.writeInt32BE(70000, 4);
    const header = idx([2], [], 0x0c);
    expect([...parseIdx(Buffer.concat([header, body]), 'i32').data]).toEqual([-5, 70000]);
  });

  it('names the file and the problem for bad input', () => {
    expect(() => parseIdx(Buffer.from('<html>404</html>'), 'images.idx')).toThrow(/images.idx: not an IDX file \(magic bytes 3c 68 74 6d/);
    expect(() => parseIdx(idx([3, 2], [1, 2, 3]), 'short.idx')).toThrow(/short.idx: IDX dimensions \[3, 2\] need 18 bytes but the file has 15 \(truncated/);
    expect(() => parseIdx(gzipSync(idx([2], [1, 2])).subarray(0, 12), 'cut.gz')).toThrow(/cut.gz: gzip data is corrupt or truncated/);
    expect(() => parseIdx(Buffer.from([0, 0]), 'tiny')).toThrow(/tiny: too short/);
    expect(() => readIdx('/nonexistent/x.idx')).toThrow(/\/nonexistent\/x.idx: cannot read \(ENOENT\)/);
  });

  it('checks that images and labels agree', () => {
    const dir = tmp();
    writeMnist(dir);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([3], [1, 2, 3])));
    expect(() => readMnistSplit(dir, 'train')).toThrow(/has 4 images but .*train-labels-idx1-ubyte.gz has 3 labels/);
    const split = readMnistSplit(dir, 'test');
    expect([split.count, split.height, split.width]).toEqual([4, 2, 3]);
  });

  it('finds the data in the configured path, then $CONVLENS_FASHION_MNIST, then Debian', () => {
    const a = tmp();
    const b = tmp();
    writeMnist(a);
    writeMnist(b, 4, false);
    expect(locateFashionMnist(a, { CONVLENS_FASHION_MNIST: b })).toBe(a);
    expect(locateFashionMnist(undefined, { CONVLENS_FASHION_MNIST: b })).toBe(b);
    const incomplete = tmp();
    expect(() => locateFashionMnist(incomplete, {})).toThrow(/from config\) lacks some of train-images-idx3-ubyte.gz/);
    if (!existsSync(DEBIAN_FASHION_MNIST)) {
      expect(() => locateFashionMnist(undefined, {})).toThrow(/apt-get install dataset-fashion-mnist/);
    } else {
      expect(locateFashionMnist(undefined, {})).toBe(DEBIAN_FASHION_MNIST);
    }
  });

  it.runIf(existsSync(DEBIAN_FASHION_MNIST))('reads the real Fashion-MNIST: 60k + 10k balanced 28x28 images', () => {
    const train = readMnistSplit(DEBIAN_FASHION_MNIST, 'train');
    const test = readMnistSplit(DEBIAN_FASHION_MNIST, 'test');
    expect([train.count, train.height, train.width, test.count]).toEqual([60000, 28, 28, 10000]);
    const hist = new Array(10).fill(0);
    for (const l of train.labels) hist[l]++;
    expect(hist).toEqual(new Array(10).fill(6000));
  });
});
