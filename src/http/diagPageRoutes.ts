/**
 * The technician's diagnostics page at /diag (issue #5): plain HTML, CSS and JS from
 * src/ui/diag, served with a strict Content-Security-Policy (only this controller's own
 * files run or load; no inline code, no framing). The page itself holds nothing secret:
 * everything it shows comes from /api/diag/*, which answers 401 without a session.
 */
import { readFileSync } from 'node:fs';
import type { HttpServer } from './server.js';

/** Only the controller's own files; no inline script or style, no framing, no form posts. */
export const DIAG_PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': DIAG_PAGE_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

export const DIAG_PAGE_PATH = '/diag';

const ASSETS: ReadonlyArray<{ paths: string[]; file: string; type: string }> = [
  { paths: [DIAG_PAGE_PATH, `${DIAG_PAGE_PATH}/`], file: 'index.html', type: 'text/html; charset=utf-8' },
  { paths: [`${DIAG_PAGE_PATH}/diag.css`], file: 'diag.css', type: 'text/css; charset=utf-8' },
  { paths: [`${DIAG_PAGE_PATH}/diag.js`], file: 'diag.js', type: 'text/javascript; charset=utf-8' },
];

const PAGE_DIR = new URL('../ui/diag/', import.meta.url);

export function registerDiagPageRoutes(http: HttpServer): void {
  // Read once at start: the files are part of the program.
  for (const a of ASSETS) {
    const body = readFileSync(new URL(a.file, PAGE_DIR));
    for (const path of a.paths) http.route('GET', path, () => ({ status: 200, text: body, headers: { 'content-type': a.type, ...SECURITY_HEADERS } }));
  }
}
