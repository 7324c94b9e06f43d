/// <reference types="astro/client" />
/** Links and image sources inside the site, under its base (`--base /repo/`); for pages and components. */
import { joinBase } from './base.ts';

export function withBase(path: string): string {
  return joinBase(import.meta.env.BASE_URL ?? '/', path);
}
