import { NET_ERROR_CODES, NetError, errorText, isNetError, limitError, streamError, toNetError } from '../lib/errors.js';

describe('NetError', () => {
  it('has a stable code, a cause and context', () => {
    const cause = new Error('ECONNRESET');
    const error = new NetError('CONNECTION_ABORTED', 'reset by 127.0.0.1:1', { cause, nodeId: [1, 2], address: '127.0.0.1:1' });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('NetError');
    expect(error.code).toBe('CONNECTION_ABORTED');
    expect(error.cause).toBe(cause);
    expect(error.nodeId).toEqual([1, 2]);
    expect(error.address).toBe('127.0.0.1:1');
    expect(isNetError(error, 'CONNECTION_ABORTED')).toBeTrue();
    expect(isNetError(error, 'TIMEOUT')).toBeFalse();
    expect(isNetError(cause)).toBeFalse();
  });

  it('covers the crate codes, TIMEOUT and the Rpc codes', () => {
    expect([...NET_ERROR_CODES].sort() as string[]).toEqual(
      [
        'ALREADY_CLOSED',
        'OPEN_ERROR',
        'CONNECTION_ERROR',
        'SEND_ERROR',
        'READ_ERROR',
        'NOT_CONNECTED',
        'CONNECTION_ABORTED',
        'CLOSE_ERROR',
        'TIMEOUT',
        'REMOTE_ERROR',
        'BUSY',
        'DISCOVERY_ERROR',
      ].sort(),
    );
  });

  it('names the broken limit', () => {
    const error = limitError('maxDepth', 10, 11, 'nesting depth');
    expect(error.code).toBe('READ_ERROR');
    expect([error.limit, error.max, error.actual]).toEqual(['maxDepth', 10, 11]);
  });

  it('wraps foreign errors with cause and keeps NetErrors', () => {
    const foreign = new RangeError('x');
    const wrapped = toNetError(foreign, 'READ_ERROR', 'bad');
    expect(wrapped.cause).toBe(foreign);
    expect(toNetError(wrapped, 'SEND_ERROR', 'other')).toBe(wrapped);
  });

  it('wraps a thrown value that cannot be printed (no toString, or one that throws) instead of throwing itself', () => {
    const unprintable: unknown[] = [
      Object.create(null),
      {
        toString: () => {
          throw new Error('no');
        },
      },
    ];
    for (const thrown of unprintable) {
      const wrapped = toNetError(thrown, 'READ_ERROR', 'bad');
      expect(wrapped.code).toBe('READ_ERROR');
      expect(wrapped.message).toBe('bad: a value that cannot be printed');
      expect(wrapped.cause).toBe(thrown);
    }
  });

  describe('errorText', () => {
    /** An OpenSSL error as node:tls hands it on: the raw report (with its trailing newline), and its parts. */
    function openssl(message: string, code: string, reason: string): Error {
      return Object.assign(new Error(message), { code, reason, library: 'SSL routines' });
    }

    it("reads OpenSSL's reports, in either layout, as one trimmed line: the reason, then the code", () => {
      const withAlert = openssl(
        '801C0CA5687F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116\n',
        'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
        'tlsv13 alert certificate required',
      );
      const withoutAlert = openssl(
        '801C0CA5687F0000:error:0A0000C7:SSL routines:tls_process_client_certificate:peer did not return a certificate:../deps/openssl/openssl/ssl/statem/statem_srvr.c:3517:\n',
        'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE',
        'peer did not return a certificate',
      );
      expect(errorText(withAlert)).toBe('tlsv13 alert certificate required (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)');
      expect(errorText(withoutAlert)).toBe('peer did not return a certificate (ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE)');
      // The report alone (no parts), and OpenSSL 3's layout with an empty function.
      expect(errorText(new Error(withAlert.message))).toBe('tlsv13 alert certificate required');
      expect(
        errorText(
          Object.assign(new Error('error:0A000418:SSL routines::tlsv1 alert unknown ca\n'), { code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' }),
        ),
      ).toBe('tlsv1 alert unknown ca (ERR_SSL_TLSV1_ALERT_UNKNOWN_CA)');
    });

    it('gives other errors their first line, trimmed, with a code the message does not name', () => {
      expect(errorText(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }))).toBe(
        'self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)',
      );
      expect(errorText(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('socket hang up (ECONNRESET)');
      expect(errorText(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe('read ECONNRESET');
      expect(errorText(new Error('  two\nlines\n'))).toBe('two');
      expect(errorText('a string')).toBe('a string');
      expect(errorText(Object.create(null))).toBe('a value that cannot be printed');
    });

    it('is what streamError says', () => {
      const error = openssl(
        'C0D7:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 42\n',
        'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
        'sslv3 alert bad certificate',
      );
      const wrapped = streamError(error, '127.0.0.1:1');
      expect(wrapped.code).toBe('CONNECTION_ERROR');
      expect(wrapped.cause).toBe(error);
      expect(wrapped.message).toBe('connection to 127.0.0.1:1 failed: sslv3 alert bad certificate (ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE)');
    });
  });
});
