/**
 * Where a loaded model's class names and input scaling come from: `--classes a,b,c`, `--classes labels.txt`
 * (one name per line), a `metadata.json` beside a model.json with `labels` — as Teachable Machine's TensorFlow.js
 * export has it — or a `labels.txt` beside a Keras model file, as its Keras export has it (`keras_model.h5` with
 * lines like `0 Mango`). Teachable Machine's image models take inputs in [-1, 1].
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export class LabelsError extends Error {}

/** A comma-separated list, or the lines of a file when `value` names one (relative to `baseDir`). */
export function readClassNames(value: string, baseDir: string): string[] {
  const path = resolve(baseDir, value);
  const looksLikeFile = /\.(txt|csv|labels)$/i.test(value) || (existsSync(path) && statSync(path).isFile());
  if (looksLikeFile) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new LabelsError(`${value}: cannot read the class names file (${(err as NodeJS.ErrnoException).code}); give a file with one class per line, or a,b,c`);
    }
    const names = stripIndices(nonEmptyLines(text));
    if (names.length < 2) throw new LabelsError(`${value}: ${names.length} class name${names.length === 1 ? '' : 's'}; expected one per line, at least 2`);
    return names;
  }
  const names = value.split(',').map((c) => c.trim());
  if (names.some((n) => n === '')) throw new LabelsError(`--classes '${value}': an empty class name; write a,b,c`);
  return names;
}

const nonEmptyLines = (text: string) => text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);

/**
 * Teachable Machine's labels.txt numbers its lines ("0 Mango", "1 Apple", …): when every line starts with its own
 * index, 0 to n − 1 in order, the indices go. Any other file's lines are the names as written.
 */
export function stripIndices(lines: string[]): string[] {
  const parsed = lines.map((l) => /^(\d+)\s+(\S.*)$/.exec(l));
  return parsed.every((m, i) => m != null && Number(m[1]) === i) ? parsed.map((m) => m![2].trim()) : lines;
}

export interface ModelMetadata {
  labels?: string[];
  /** Teachable Machine image models take [-1, 1]. */
  scaling?: '[-1,1]';
  /** The file it came from, relative to the model's folder (for messages). */
  file: string;
}

/**
 * What Teachable Machine's exports put beside the model, when present: `metadata.json` beside a model.json, or
 * `labels.txt` beside a Keras model file (`.h5`, `.keras`). Teachable Machine's own files — a metadata.json with its
 * `tmVersion` or package name, or a numbered labels.txt beside `keras_model.h5` — also set its [-1, 1] scaling.
 */
export function readModelMetadata(modelPath: string): ModelMetadata | undefined {
  if (/\.(h5|hdf5|keras)$/i.test(modelPath)) return readLabelsBeside(modelPath);
  if (!/\.json$/i.test(modelPath)) return undefined;
  const path = join(dirname(resolve(modelPath)), 'metadata.json');
  if (!existsSync(path) || resolve(modelPath) === path) return undefined;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new LabelsError(`${basename(path)} beside ${basename(modelPath)}: not valid JSON (${(err as Error).message}); fix it or remove it and pass --classes`);
  }
  const labels = Array.isArray(raw.labels) ? raw.labels.map(String) : undefined;
  const teachable = typeof raw.tmVersion === 'string' || String(raw.packageName ?? '').startsWith('@teachablemachine/');
  return { labels, scaling: teachable ? '[-1,1]' : undefined, file: basename(path) };
}

/** `labels.txt` beside a Keras model file (Teachable Machine's Keras export writes it beside keras_model.h5). */
function readLabelsBeside(modelPath: string): ModelMetadata | undefined {
  const path = join(dirname(resolve(modelPath)), 'labels.txt');
  if (!existsSync(path)) return undefined;
  const lines = nonEmptyLines(readFileSync(path, 'utf8'));
  const labels = stripIndices(lines);
  const teachable = basename(modelPath).toLowerCase() === 'keras_model.h5' && labels !== lines;
  return { labels, scaling: teachable ? '[-1,1]' : undefined, file: basename(path) };
}
