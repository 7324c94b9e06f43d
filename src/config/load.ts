/**
 * Reading a config file (.ts / .mts / .mjs / .js through the module loader, .json as JSON) and turning zod's
 * issues into messages that name the key, what was expected and what was found.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ZodError, ZodIssue } from 'zod';
import { ATTRIBUTION_METHODS } from '../viz/registry.ts';
import { Config } from './schema.ts';

export class ConfigError extends Error {}

/** Levenshtein distance (for "did you mean"). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

export function suggest(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const dist = distance(word.toLowerCase(), o.toLowerCase());
    if (dist < bestD) {
      best = o;
      bestD = dist;
    }
  }
  return best != null && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** `models[0].training.epochs` */
export function keyPath(path: ReadonlyArray<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(top level)';
}

function valueAt(raw: unknown, path: ReadonlyArray<string | number>): unknown {
  let v = raw;
  for (const p of path) v = v != null && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined;
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/** Keys a strict object at `path` accepts, read from the schema's shape where zod tells us. */
function describeIssue(issue: ZodIssue, raw: unknown, prefix: ReadonlyArray<string | number> = []): string[] {
  const path = [...prefix, ...issue.path];
  const found = valueAt(raw, path);
  switch (issue.code) {
    case 'invalid_union': {
      // Models: a loaded model has `load`; anything else is a zoo model. Report the branch the user meant.
      const wantsLoad = found != null && typeof found === 'object' && 'load' in found;
      const branch = issue.unionErrors[wantsLoad ? 1 : 0] ?? issue.unionErrors[0];
      if (branch && issue.unionErrors.length === 2 && path.length >= 2 && path[0] === 'models') {
        return branch.issues.flatMap((i) => describeIssue(i, raw, []));
      }
      const options = issue.unionErrors.map((e) => e.issues.map((i) => i.message).join('; ')).join(' | or | ');
      return [`${keyPath(path)}: expected one of several forms (${options}), found ${show(found)}`];
    }
    case 'unrecognized_keys': {
      const known = (issue as ZodIssue & { known?: string[] }).known ?? [];
      return issue.keys.map((k) => {
        const hint = suggest(k, known);
        return `${keyPath([...path, k])}: unknown key${hint ? ` (did you mean '${hint}'?)` : ''}${known.length ? `; expected one of ${known.join(', ')}` : ''}`;
      });
    }
    case 'invalid_enum_value': {
      const got = issue.received;
      const hint = typeof got === 'string' ? suggest(got, issue.options.map(String)) : undefined;
      // A record key (methods.<id>): the key itself is wrong.
      const isKey = path[path.length - 1] === got && found !== got;
      const where = isKey ? `${keyPath(path.slice(0, -1))}: unknown key '${String(got)}'` : `${keyPath(path)}: found ${show(got)}`;
      return [`${where}${hint ? ` (did you mean '${hint}'?)` : ''}; expected one of ${issue.options.map((o) => `'${String(o)}'`).join(', ')}`];
    }
    case 'invalid_union_discriminator':
      return [`${keyPath(path)}: expected one of ${issue.options.map((o) => `'${String(o)}'`).join(', ')}, found ${show(found)}`];
    case 'invalid_type':
      return [`${keyPath(path)}: expected ${issue.expected}, found ${issue.received === 'undefined' ? 'nothing (the key is required)' : `${issue.received} ${show(found)}`}`];
    default:
      return [`${keyPath(path)}: ${issue.message}, found ${show(found)}`];
  }
}

/** Every issue of a failed parse, one line each. */
export function describeZodError(error: ZodError, raw: unknown): string[] {
  return error.issues.flatMap((i) => describeIssue(i, raw));
}

/** Validate a config object; throws ConfigError naming `file` and every bad key. */
export function parseConfig(raw: unknown, file: string): Config {
  const lines: string[] = [];
  const parsed = Config.safeParse(raw);
  if (!parsed.success) lines.push(...describeZodError(withKnownKeys(parsed.error, raw), raw));
  else {
    // Method parameters are checked by each method's own schema.
    for (const [id, params] of Object.entries(parsed.data.methods)) {
      if (params === false) continue;
      const method = ATTRIBUTION_METHODS.find((m) => m.id === id)!;
      const r = method.params.safeParse(params);
      if (!r.success) {
        lines.push(...r.error.issues.flatMap((i) => describeIssue(withKnown(i, method.params, params), raw, ['methods', id])));
      }
    }
  }
  if (lines.length) {
    throw new ConfigError(`${file}: invalid config\n  ${lines.join('\n  ')}`);
  }
  return parsed.data!;
}

/** Attach the accepted keys to zod's unrecognized_keys issues (zod 3 does not list them). */
function withKnownKeys(error: ZodError, raw: unknown): ZodError {
  for (const issue of error.issues) attachKnown(issue, Config, issue.path, raw);
  return error;
}

function withKnown(issue: ZodIssue, schema: unknown, raw: unknown): ZodIssue {
  attachKnown(issue, schema, issue.path, raw);
  return issue;
}

type AnySchema = { _def?: Record<string, unknown>; shape?: Record<string, unknown> };

/**
 * Walk a zod schema along a path (objects, arrays, records, defaults, optionals), following the raw value so
 * that a union resolves to the branch the value is written for (its discriminator, or `load` for models).
 */
function schemaAt(schema: unknown, path: ReadonlyArray<string | number>, raw: unknown): unknown {
  let s = schema as AnySchema | undefined;
  let v = raw;
  const branch = (cur: AnySchema | undefined, value: unknown): AnySchema | undefined => {
    const u = unwrap(cur);
    const def = u?._def as { typeName?: string; options?: AnySchema[]; discriminator?: string } | undefined;
    if (def?.typeName === 'ZodDiscriminatedUnion' && def.options && value && typeof value === 'object') {
      const want = (value as Record<string, unknown>)[def.discriminator!];
      return def.options.find((o) => (o.shape?.[def.discriminator!] as AnySchema | undefined)?._def?.value === want) ?? u;
    }
    if (def?.typeName === 'ZodUnion' && def.options && value && typeof value === 'object') {
      return def.options.find((o) => 'load' in (value as object) === Boolean(o.shape && 'load' in o.shape)) ?? u;
    }
    return u;
  };
  for (const p of path) {
    s = branch(s, v);
    if (!s?._def) return undefined;
    const def = s._def as { typeName?: string; type?: unknown; shape?: () => Record<string, unknown>; valueType?: unknown };
    if (def.typeName === 'ZodArray' && typeof p === 'number') s = def.type as AnySchema;
    else if (def.typeName === 'ZodObject' && typeof p === 'string') s = def.shape?.()[p] as AnySchema;
    else if (def.typeName === 'ZodRecord') s = def.valueType as AnySchema;
    else return undefined;
    v = v != null && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined;
  }
  return branch(s, v);
}

function unwrap(s: AnySchema | undefined): AnySchema | undefined {
  let cur = s;
  for (let i = 0; i < 8 && cur?._def; i++) {
    const def = cur._def as { typeName?: string; innerType?: AnySchema; schema?: AnySchema };
    if ((def.typeName === 'ZodDefault' || def.typeName === 'ZodOptional' || def.typeName === 'ZodNullable') && def.innerType) cur = def.innerType;
    else if (def.typeName === 'ZodEffects' && def.schema) cur = def.schema;
    else break;
  }
  return cur;
}

/** `raw` is the value `root` describes (schemaAt follows it through unions). */
function attachKnown(issue: ZodIssue, root: unknown, path: ReadonlyArray<string | number>, raw: unknown): void {
  if (issue.code === 'unrecognized_keys') {
    const s = schemaAt(root, path, raw) as AnySchema | undefined;
    const def = s?._def as { typeName?: string; shape?: () => Record<string, unknown>; options?: AnySchema[] } | undefined;
    if (def?.typeName === 'ZodObject' && def.shape) (issue as ZodIssue & { known?: string[] }).known = Object.keys(def.shape());
  } else if (issue.code === 'invalid_union') {
    for (const [b, e] of issue.unionErrors.entries()) {
      const branch = ((schemaAt(root, path, raw) as AnySchema | undefined)?._def as { options?: unknown[] } | undefined)?.options?.[b];
      for (const sub of e.issues) {
        if (branch) attachKnown(sub, branch, sub.path.slice(path.length), valueAt(raw, path));
        else attachKnown(sub, root, sub.path, raw);
      }
    }
  }
}

export const CONFIG_NAMES = ['convlens.config.ts', 'convlens.config.mts', 'convlens.config.mjs', 'convlens.config.js', 'convlens.config.json'];

/** The config file in `dir`, if there is one. */
export function findConfig(dir: string): string | undefined {
  return CONFIG_NAMES.map((n) => join(dir, n)).find((p) => existsSync(p));
}

/**
 * The default export of a config module. A .ts config is compiled to an ES module beside it first (then removed):
 * in a user's project whose package.json says "type": "commonjs" (npm init's default), Node would otherwise
 * load convlens.config.ts as CommonJS and fail on `import … from 'convlens/config'`, an ES module.
 */
async function importConfigModule(path: string): Promise<unknown> {
  // A plain absolute path on POSIX (vitest's module runner resolves those, not file: URLs); a URL on Windows.
  const load = async (p: string) => ((await import(process.platform === 'win32' ? pathToFileURL(p).href : p)) as { default?: unknown }).default;
  if (!/\.(ts|mts)$/i.test(path)) return load(path);
  const { transform } = await import('esbuild');
  const { code } = await transform(readFileSync(path, 'utf8'), { loader: 'ts', format: 'esm', sourcefile: path, target: 'node20' });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.mjs`);
  writeFileSync(tmp, code);
  try {
    return await load(tmp);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Load and validate a config file. */
export async function loadConfig(file: string): Promise<Config> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ConfigError(`${file}: config file not found; create it or drop --config`);
  let raw: unknown;
  const ext = extname(path).toLowerCase();
  if (ext === '.json') {
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${file}: not valid JSON (${(err as Error).message})`);
    }
  } else if (['.ts', '.mts', '.mjs', '.js'].includes(ext)) {
    try {
      raw = await importConfigModule(path);
    } catch (err) {
      throw new ConfigError(`${file}: could not be loaded (${(err as Error).message})`);
    }
    if (raw === undefined) throw new ConfigError(`${file}: no default export; write \`export default defineConfig({ … })\``);
  } else {
    throw new ConfigError(`${file}: unsupported config type '${ext}'; use convlens.config.ts, .mjs or .json`);
  }
  return parseConfig(raw, file);
}
