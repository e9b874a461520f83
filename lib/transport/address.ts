import { NetError, describeValue, type NetErrorCode } from '../errors.js';

/** An address: `"host:port"`, `"[v6]:port"`, `{ host, port }`, or a URL such as `"tcp://host:port"`. Port 0 takes a free port. */
export type Address =
  | string
  | {
      /** A host name or an IP literal (IPv6 with or without brackets). */
      readonly host: string;
      /** The TCP port, 0-65535 (0 to listen on a free port). */
      readonly port: number;
    };

/** A parsed {@link Address}: which transport, where, and in which form it was given. */
export interface Endpoint {
  /** The transport: `tcp` for a bare `"host:port"`. */
  readonly scheme: string;
  /** A host name or an IP literal (IPv6 without brackets). */
  readonly host: string;
  /** The TCP port, 0-65535. */
  readonly port: number;
  /** The URL path (WebSocket), `/` when none was given. */
  readonly path: string;
  /** Was it given as a URL (then addresses are reported as URLs too)? */
  readonly url: boolean;
}

const BARE = /^(?:\[([^\]]+)\]|([^:[\]/]+)):(\d+)$/;
const URL_FORM = /^([a-z][a-z0-9+.-]*):\/\/(?:\[([^\]]+)\]|([^:[\]/]+)):(\d+)(\/[^?#]*)?$/i;

/**
 * Parses an {@link Address}; throws a `NetError` with `code` (`OPEN_ERROR`
 * for `listen`, `CONNECTION_ERROR` for `connect`) when it is malformed.
 */
export function parseAddress(address: Address, code: NetErrorCode): Endpoint {
  let endpoint: Endpoint;
  if (typeof address === 'string') {
    const bare = BARE.exec(address);
    const url = bare ? null : URL_FORM.exec(address);
    if (bare) endpoint = { scheme: 'tcp', host: bare[1] ?? bare[2]!, port: Number(bare[3]), path: '/', url: false };
    else if (url) {
      endpoint = { scheme: url[1]!.toLowerCase(), host: url[2] ?? url[3]!, port: Number(url[4]), path: url[5] ?? '/', url: true };
    } else {
      throw new NetError(code, `invalid address ${JSON.stringify(address)}: expected "host:port", "[v6]:port" or "scheme://host:port"`, {
        address,
      });
    }
  } else if (typeof address === 'object' && (address as unknown) !== null && typeof address.host === 'string') {
    const host = address.host.startsWith('[') && address.host.endsWith(']') ? address.host.slice(1, -1) : address.host;
    endpoint = { scheme: 'tcp', host, port: address.port, path: '/', url: false };
  } else {
    throw new NetError(code, `invalid address ${describeValue(address)}: expected "host:port" or { host, port }`);
  }
  const { host, port } = endpoint;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535) || host === '') {
    throw new NetError(code, `invalid address ${formatAddress(host, port)}: port must be 0-65535`, { address: formatAddress(host, port) });
  }
  return endpoint;
}

/** `"host:port"`, with IPv6 in brackets and IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as plain IPv4. */
export function formatAddress(host: string, port: number): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return `${mapped[1]}:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An endpoint in the form it was given, with `hostPort` (`"host:port"`, as bound) in place of its host and port. */
export function formatEndpoint(endpoint: Endpoint, hostPort: string): string {
  if (!endpoint.url) return hostPort;
  return `${endpoint.scheme}://${hostPort}${endpoint.path === '/' ? '' : endpoint.path}`;
}
