import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inlineScripts, policyFor, withCsp } from '../src/site/csp.ts';

describe('content security policy', () => {
  const html = '<html><head><title>x</title><script>alert(1)</script><script type="module" src="/a.js"></script><script type="application/ld+json">{}</script></head><body></body></html>';

  it('hashes exactly the inline scripts', () => {
    expect(inlineScripts(html)).toEqual(['alert(1)']);
    const hash = createHash('sha256').update('alert(1)').digest('base64');
    const policy = policyFor(html);
    expect(policy).toContain(`script-src 'self' 'wasm-unsafe-eval' 'sha256-${hash}'`);
    expect(policy).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(policy).toContain("default-src 'self'");
  });

  it('puts the meta first in <head>', () => {
    expect(withCsp(html)).toMatch(/^<html><head><meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src/);
  });
});
