import { certificateId } from '../../lib/certificateId.js';
import { NetError, noCertificate, refusedAfterTls } from '../../lib/errors.js';
import type { Node, NodeConfig } from '../../lib/node/Node.js';
import { certificateAuthority, selfSigned, type KeyPair } from '../helpers/certificates.js';
import { EventLog, makeNode, until } from '../helpers/nodes.js';

/**
 * A TLS listener that cuts a client says why, over tls:// and wss:// alike:
 * on its `failures$` the certificate check's verdict (node:tls itself says
 * only "socket hang up") or the TLS failure on one line (OpenSSL's raw report
 * is several fields and a newline); the client's `connect` rejects with
 * `CONNECTION_ERROR` saying what it can know: the TLS alert when there is
 * one, else that the listener refused it right after the TLS handshake.
 * The assertions look for stable identifiers in the messages (verify codes,
 * OpenSSL error codes) or compare with the factory that makes the message:
 * the messages are what these fixes are about. Loopback only.
 */

/** The error a promise rejects with; fails the spec when it resolves or rejects with anything but a NetError. */
async function rejection(promise: Promise<unknown>): Promise<NetError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(NetError);
    return error as NetError;
  }
  throw new Error('it resolved');
}

/** One line: no newline, none of OpenSSL's `error:<hex>:` report. */
function expectOneLine(error: NetError): void {
  expect(error.message).not.toContain('\n');
  expect(error.message).not.toMatch(/error:[0-9A-F]{8}:/);
}

interface Target {
  node: Node<unknown, string>;
  address: string;
  log: EventLog<unknown, string, null>;
  failures: NetError[];
}

async function target(scheme: string, config: NodeConfig<unknown, string, null>): Promise<Target> {
  const node = makeNode({ linger: 200, ...config });
  const log = new EventLog(node);
  const failures: NetError[] = [];
  node.failures$.subscribe((failure) => failures.push(failure));
  node.events$.subscribe((event) => {
    if (event.type === 'connectionRequest') event.request.accept();
  });
  return { node, address: await node.listen(`${scheme}://127.0.0.1:0`), log, failures };
}

/** The target's next failure, waiting for it (it may come after the client's connect has settled). */
async function failureOf(a: Target): Promise<NetError> {
  await until(() => a.failures.length > 0, 3000, 'a failure on the listener');
  return a.failures.shift()!;
}

describe('TLS refusals say why', () => {
  let ca: ReturnType<typeof certificateAuthority>;
  let other: ReturnType<typeof certificateAuthority>;
  let server: KeyPair;
  let keyBound: KeyPair;
  const refused: [string, () => KeyPair, string][] = [
    ['a self-signed client certificate', () => selfSigned('stranger'), 'DEPTH_ZERO_SELF_SIGNED_CERT'],
    ['a client certificate from another CA', () => other.issue('foreign'), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['an expired client certificate', () => ca.issue('expired', { expired: true }), 'CERT_HAS_EXPIRED'],
  ];

  beforeAll(() => {
    ca = certificateAuthority('refusals-ca');
    other = certificateAuthority('refusals-other-ca');
    server = ca.issue('refusals-server');
    keyBound = selfSigned('refusals-key-bound');
  });

  for (const scheme of ['tls', 'wss']) {
    describe(`over ${scheme}://`, () => {
      for (const [name, pairOf, verdict] of refused) {
        it(`${name}: the listener reports the verdict (${verdict}); connect rejects saying the listener refused it`, async () => {
          const a = await target(scheme, { nodeId: 'target', tls: { key: server.key, cert: server.cert, ca: ca.cert } });
          const pair = pairOf();
          // The client trusts the listener: only its own certificate is at fault.
          const client = makeNode({ nodeId: 'client', tls: { key: pair.key, cert: pair.cert, ca: ca.cert }, linger: 200 });
          const error = await rejection(client.connect(a.address));
          expect(error.code).toBe('CONNECTION_ERROR');
          expect(error.message).toBe(refusedAfterTls(error.address!, true).message);
          const failure = await failureOf(a);
          expect(failure.code).toBe('CONNECTION_ERROR');
          expect(failure.message).toContain(verdict);
          expectOneLine(failure);
          expect(a.log.ofType('connectionRequest')).toEqual([]);
          expect(a.node.connectionCount).toBe(0);
        });
      }

      it('a client without a certificate, to a listener that requires one: the TLS alert on the client, the reason on the listener, each on one line', async () => {
        const a = await target(scheme, { nodeId: 'target', tls: { key: server.key, cert: server.cert, ca: ca.cert } });
        const client = makeNode({ nodeId: 'client', tls: { ca: ca.cert }, linger: 200 });
        const error = await rejection(client.connect(a.address));
        expect(error.code).toBe('CONNECTION_ERROR');
        expect(error.message).toContain('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
        expectOneLine(error);
        const failure = await failureOf(a);
        expect(failure.code).toBe('CONNECTION_ERROR');
        expect(failure.message).toContain('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
        expectOneLine(failure);
        expect(a.node.connectionCount).toBe(0);
      });

      it('key-bound ids, a client without a certificate: connect rejects saying it has none, every time; the listener registers nothing', async () => {
        const a = await target(scheme, {
          nodeId: certificateId(keyBound.cert),
          tls: { key: keyBound.key, cert: keyBound.cert },
          authenticateIds: true,
        });
        const client = makeNode({ nodeId: 'anonymous', tls: { rejectUnauthorized: false }, linger: 200 });
        const clientLog = new EventLog(client);
        for (let attempt = 0; attempt < 3; attempt++) {
          const error = await rejection(client.connect(a.address));
          expect(error.code).toBe('CONNECTION_ERROR');
          expect(error.message).toBe(refusedAfterTls(error.address!, false).message);
          const failure = await failureOf(a);
          expect(failure.code).toBe('CONNECTION_ERROR');
          expect(failure.message).toBe(noCertificate(failure.address!).message);
        }
        expect(clientLog.ofType('connected')).toEqual([]);
        expect(a.log.ofType('connectionRequest')).toEqual([]);
        expect(a.node.connectionCount).toBe(0);
        expect(client.connectionCount).toBe(0);
      });
    });
  }
});
