/**
 * The site's sub-path. A GitHub *project* Pages site is served at https://user.github.io/repo/, so every link
 * and image must start with /repo/. From `--base`, else the path of CONVLENS_SITE_URL, else '/'.
 */
export interface SiteLocation {
  /** '/' or '/a/b/' (leading and trailing slash). */
  base: string;
  /** The origin for absolute URLs (Open Graph previews, sitemap). */
  site: string;
}

export function normalizeBase(raw: string): string {
  const parts = raw.split('/').filter(Boolean);
  for (const p of parts) {
    if (p === '.' || p === '..' || !/^[A-Za-z0-9._~-]+$/.test(p)) {
      throw new Error(`--base '${raw}': each part of the path must be letters, digits, '.', '_', '~' or '-' (found '${p}')`);
    }
  }
  return parts.length ? `/${parts.join('/')}/` : '/';
}

export function siteBase(cliBase: string | undefined, siteUrl: string | undefined): SiteLocation {
  let url: URL | undefined;
  if (siteUrl) {
    try {
      url = new URL(siteUrl);
    } catch {
      throw new Error(`CONVLENS_SITE_URL '${siteUrl}': not a URL; expected e.g. https://user.github.io/repo/`);
    }
  }
  return { base: normalizeBase(cliBase ?? url?.pathname ?? '/'), site: url?.origin ?? 'https://example.invalid' };
}

/** `path` ('/models/x/') under the site's base (import.meta.env.BASE_URL in pages). */
export function joinBase(base: string, path: string): string {
  if (!path.startsWith('/') || path.startsWith('//')) return path;
  return `${base.replace(/\/+$/, '')}${path}`;
}
