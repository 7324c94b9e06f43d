/**
 * NumPy .npy files (format version 1.0): magic "\x93NUMPY", version, a little-endian uint16 header length, an
 * ASCII dict header padded with spaces to a multiple of 64 bytes and ending in "\n", then the raw data.
 * `np.load` opens them.
 */
import { writeFileSync } from 'node:fs';

const DESCR: Record<string, string> = { Float32Array: '<f4', Float64Array: '<f8', Int32Array: '<i4', Uint8Array: '|u1' };

export function npyBytes(data: Float32Array | Float64Array | Int32Array | Uint8Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`npy: shape [${shape}] holds ${count} values, data has ${data.length}`);
  const descr = DESCR[data.constructor.name];
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  out.set(new TextEncoder().encode(header), 10);
  // Typed arrays are little-endian on every platform Node runs on.
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

export function writeNpy(path: string, data: Float32Array | Float64Array | Int32Array | Uint8Array, shape: number[]): void {
  writeFileSync(path, npyBytes(data, shape));
}

/** A .npy file's array (little-endian float32 or float64, C order) and shape; anything else is refused. */
export function parseNpy(bytes: Uint8Array): { data: Float32Array | Float64Array; shape: number[] } {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new Error('not a .npy file');
  const major = bytes[6];
  const headerLength = major === 1 ? bytes[8] | (bytes[9] << 8) : bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText == null || fortran) throw new Error(`unsupported .npy header ${header.trim()}`);
  const shape = shapeText.split(',').map((t) => t.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = bytes.slice(start + headerLength);
  const Type = descr === '<f4' ? Float32Array : descr === '<f8' ? Float64Array : undefined;
  if (!Type) throw new Error(`unsupported .npy dtype ${descr}`);
  if (body.byteLength < count * Type.BYTES_PER_ELEMENT) throw new Error(`.npy holds ${body.byteLength} bytes, shape [${shape}] needs ${count * Type.BYTES_PER_ELEMENT}`);
  return { data: new Type(body.buffer, body.byteOffset, count), shape };
}
