import { describe, expect, it } from 'vitest';
import { slugify, uniqueSlugs } from '../src/manifest/slug.ts';

describe('slugs', () => {
  it('makes hostile names harmless', () => {
    expect(slugify('../x')).toBe('x');
    expect(slugify('<img onerror=alert(1)>')).toBe('img-onerror-alert-1');
    expect(slugify('block_1_expand_BN')).toBe('block-1-expand-bn');
    expect(slugify('Café/ünïcode')).toBe('cafe-unicode');
    expect(slugify('a'.repeat(500))).toHaveLength(60);
    expect(slugify('///')).toMatch(/^n-[0-9a-f]{8}$/);
    expect(slugify('日本語')).toMatch(/^n-[0-9a-f]{8}$/);
  });

  it('keeps slugs unique', () => {
    const s = uniqueSlugs(['conv 1', 'conv-1', 'conv_1']);
    expect(new Set(s).size).toBe(3);
    expect(s[0]).toBe('conv-1');
  });
});
