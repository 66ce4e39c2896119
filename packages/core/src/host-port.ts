/**
 * `host:port` addresses, written and read as Go's `net.JoinHostPort` and `net.SplitHostPort` do: an IPv6
 * host goes in brackets (`[::1]:8080`), so the last colon always separates the port.
 */

/** `host:port`, with brackets around a host that contains a colon (an IPv6 address). */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Splits `host:port` or `[v6]:port` into the host, brackets removed, and the port; `undefined` when there
 * is no port or it is not a number in [0, 65535].
 */
export function splitHostPort(address: string): { host: string; port: number } | undefined {
  const colon = address.lastIndexOf(':');
  if (colon === -1) return undefined;
  const portText = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65_535) return undefined;
  let host = address.slice(0, colon);
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return undefined;
    host = host.slice(1, -1);
  } else if (host.includes(':')) {
    return undefined;
  }
  return { host, port };
}

/**
 * The host of a Host header or authority, without its port and without brackets: `a.b:80` → `a.b`,
 * `[::1]:80` → `::1`, `[::1]` → `::1`.
 */
export function hostWithoutPort(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end === -1 ? authority : authority.slice(1, end);
  }
  const colon = authority.lastIndexOf(':');
  return colon === -1 ? authority : authority.slice(0, colon);
}
