import { NetError } from '../../lib/errors.js';
import { formatAddress, formatEndpoint, parseAddress } from '../../lib/transport/address.js';

describe('addresses', () => {
  it('parse "host:port", "[v6]:port" and { host, port }', () => {
    const bare = (host: string, port: number) => ({ scheme: 'tcp', host, port, path: '/', url: false });
    expect(parseAddress('127.0.0.1:80', 'OPEN_ERROR')).toEqual(bare('127.0.0.1', 80));
    expect(parseAddress('[::1]:0', 'OPEN_ERROR')).toEqual(bare('::1', 0));
    expect(parseAddress({ host: '[::1]', port: 5 }, 'OPEN_ERROR')).toEqual(bare('::1', 5));
    expect(parseAddress('localhost:9', 'OPEN_ERROR')).toEqual(bare('localhost', 9));
  });

  it('refuse malformed ones with the given code', () => {
    for (const bad of ['nonsense', '1.2.3.4', ':80', '[::1]', 'h:65536', 'h:-1'] as const) {
      expect(() => parseAddress(bad, 'CONNECTION_ERROR')).toThrowMatching((e) => e instanceof NetError && e.code === 'CONNECTION_ERROR');
    }
    expect(() => parseAddress(42 as unknown as string, 'OPEN_ERROR')).toThrowMatching(
      (e) => e instanceof NetError && e.code === 'OPEN_ERROR',
    );
  });

  it('parse URLs: the scheme picks the transport, the path is kept, and the form is reported back', () => {
    expect(parseAddress('tcp://127.0.0.1:80', 'OPEN_ERROR')).toEqual({ scheme: 'tcp', host: '127.0.0.1', port: 80, path: '/', url: true });
    expect(parseAddress('WSS://[::1]:443/mesh/a', 'OPEN_ERROR')).toEqual({
      scheme: 'wss',
      host: '::1',
      port: 443,
      path: '/mesh/a',
      url: true,
    });
    expect(formatEndpoint(parseAddress('tcp://localhost:0', 'OPEN_ERROR'), '127.0.0.1:4000')).toBe('tcp://127.0.0.1:4000');
    expect(formatEndpoint(parseAddress('ws://h:0/p', 'OPEN_ERROR'), '[::1]:9')).toBe('ws://[::1]:9/p');
    expect(formatEndpoint(parseAddress('localhost:0', 'OPEN_ERROR'), '127.0.0.1:4000')).toBe('127.0.0.1:4000');
    expect(() => parseAddress('tcp://h', 'OPEN_ERROR')).toThrowMatching((e) => e instanceof NetError && e.code === 'OPEN_ERROR');
  });

  it('format IPv6 in brackets and IPv4-mapped IPv6 as IPv4', () => {
    expect(formatAddress('::1', 80)).toBe('[::1]:80');
    expect(formatAddress('::ffff:127.0.0.1', 80)).toBe('127.0.0.1:80');
    expect(formatAddress('10.0.0.1', 1)).toBe('10.0.0.1:1');
  });
});
