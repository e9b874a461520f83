// lib/platform.browser.ts, the platform of the browser build (it replaces lib/platform.ts there):
// the browser's WebSocket for ws:// and wss://, nothing else, and no certificateId.
import type { NetError } from '../../lib/errors.js';
import { platform } from '../../lib/platform.browser.js';
import { parseAddress } from '../../lib/transport/address.js';

describe('the browser platform (lib/platform.browser.ts)', () => {
  const settings = { tls: {}, authenticateIds: false, handshakeTimeout: 1000, maxValueBytes: 1024 };

  it('has the WebSocket API transport for ws:// and wss:// only, and no certificateId', () => {
    const transports = platform.transports(settings);
    expect(Object.keys(transports).sort()).toEqual(['ws', 'wss']);
    expect(transports['ws']).toBe(transports['wss']);
    expect(platform.certificateId).toBeUndefined();
    expect(platform.name).toBe('browsers');
  });

  it('cannot listen: OPEN_ERROR', async () => {
    const { wss } = platform.transports(settings);
    const error = (await wss!
      .listen(parseAddress('wss://127.0.0.1:0/', 'OPEN_ERROR'), () => undefined)
      .catch((caught: unknown) => caught)) as NetError;
    expect(error.code).toBe('OPEN_ERROR');
  });
});
