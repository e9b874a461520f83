import { ConnectionRequest } from '../../lib/node/ConnectionRequest.js';
import { client, listening } from '../helpers/nodes.js';

describe('ConnectionRequest', () => {
  it('carries the handshake and decides through its connection, once', async () => {
    const server = await listening({ accept: false });
    const c = client({ id: 'asker' });
    void c.node.connect(server.address).catch(() => undefined);
    const { request } = await server.log.next('connectionRequest');
    expect(request).toBeInstanceOf(ConnectionRequest);
    expect(request.nodeId).toBe('asker');
    expect(request.initMessage).toBeNull();
    expect(request.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(request.isPending).toBeTrue();
    expect(request.reject()).toBeTrue();
    expect(request.isPending).toBeFalse();
    expect(request.accept()).toBeFalse();
    expect(request.reject()).toBeFalse();
  });
});
