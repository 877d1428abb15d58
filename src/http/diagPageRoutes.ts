/**
 * The technician's diagnostics page at /diag (issue #5): plain HTML, CSS and JS from
 * src/ui/diag, served with a strict Content-Security-Policy (only this controller's own
 * files run or load; no inline code, no framing). The page itself holds nothing secret:
 * everything it shows comes from /api/diag/*, which answers 401 without a session.
 */
import type { HttpServer } from './server.js';
import { PAGE_CONTENT_SECURITY_POLICY, registerStaticPage, type PageAsset } from './staticPages.js';

/** The same policy as the citizen page. */
export const DIAG_PAGE_CONTENT_SECURITY_POLICY = PAGE_CONTENT_SECURITY_POLICY;

export const DIAG_PAGE_PATH = '/diag';

const ASSETS: readonly PageAsset[] = [
  { paths: [DIAG_PAGE_PATH, `${DIAG_PAGE_PATH}/`], file: 'index.html', type: 'text/html; charset=utf-8' },
  { paths: [`${DIAG_PAGE_PATH}/diag.css`], file: 'diag.css', type: 'text/css; charset=utf-8' },
  { paths: [`${DIAG_PAGE_PATH}/diag.js`], file: 'diag.js', type: 'text/javascript; charset=utf-8' },
];

const PAGE_DIR = new URL('../ui/diag/', import.meta.url);

export function registerDiagPageRoutes(http: HttpServer): void {
  registerStaticPage(http, PAGE_DIR, ASSETS);
}
