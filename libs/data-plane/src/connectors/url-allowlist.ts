/**
 * HTTP_CONNECTOR_ALLOWLIST matching, shared by the http connector's parseArgs (400 at intent creation)
 * and its execute (re-checked at the effect, in case the allowlist changed since).
 *
 * Both sides are parsed with the WHATWG URL parser, never compared as text: a URL is admitted by a
 * prefix when the origins are equal (protocol, host and port — so `api.example.com.evil.net` and
 * `127.0.0.1:8080@localhost:9000` are other hosts) and its normalised path (`..` resolved) is the
 * prefix path or lies below it at a segment boundary (`/v1` admits `/v1` and `/v1/x`, not `/v10`).
 */

export type AllowlistVerdict =
  { readonly allowed: true } | { readonly allowed: false; readonly reason: 'invalid' | 'credentials' | 'encoded-separator' | 'not-listed' };

/** `%2F` / `%5C` in a path: a server that decodes them before routing could climb out of the prefix. */
const ENCODED_SEPARATOR = /%(2f|5c)/i;

function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

function isHttp(url: URL): boolean {
  return url.protocol === 'http:' || url.protocol === 'https:';
}

/** True when `path` is `base` or below it, `base` being a prefix path without its trailing slash. */
function underPath(path: string, prefixPath: string): boolean {
  const base = prefixPath.endsWith('/') ? prefixPath.slice(0, -1) : prefixPath;
  return path === base || path.startsWith(`${base}/`);
}

/** One prefix admits one URL (both already parsed). Prefixes with credentials are never matched. */
function admits(prefix: URL, url: URL): boolean {
  if (!isHttp(prefix) || prefix.username !== '' || prefix.password !== '') return false;
  return prefix.origin === url.origin && underPath(url.pathname, prefix.pathname);
}

/** Decides whether `url` may be called under `allowlist`; the one place this is decided. */
export function checkAllowlist(url: string, allowlist: readonly string[]): AllowlistVerdict {
  const parsed = parse(url);
  if (!parsed || !isHttp(parsed)) return { allowed: false, reason: 'invalid' };
  if (parsed.username !== '' || parsed.password !== '') return { allowed: false, reason: 'credentials' };
  if (ENCODED_SEPARATOR.test(parsed.pathname)) return { allowed: false, reason: 'encoded-separator' };
  for (const entry of allowlist) {
    const prefix = parse(entry);
    if (prefix && admits(prefix, parsed)) return { allowed: true };
  }
  return { allowed: false, reason: 'not-listed' };
}
