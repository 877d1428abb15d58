/**
 * The controller's own web pages (the citizen screen at /, the technician's at /diag):
 * files read once at start — they are part of the program — and served with a strict
 * Content-Security-Policy, so only the controller's own files run or load.
 */
import { readFileSync } from 'node:fs';
import type { HttpServer } from './server.js';

/** Only the controller's own files; no inline script or style, no framing, no form posts. */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const PAGE_SECURITY_HEADERS = {
  'content-security-policy': PAGE_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

export interface PageAsset {
  paths: readonly string[];
  file: string;
  type: string;
}

/** Serves each asset of `dir` on its paths. */
export function registerStaticPage(http: HttpServer, dir: URL, assets: readonly PageAsset[]): void {
  for (const a of assets) {
    const body = readFileSync(new URL(a.file, dir));
    for (const path of a.paths) http.route('GET', path, () => ({ status: 200, text: body, headers: { 'content-type': a.type, ...PAGE_SECURITY_HEADERS } }));
  }
}
