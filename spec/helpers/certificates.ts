import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedArgs } from '../../lib/cli/keygen.js';

/** A key and its certificate, PEM. */
export interface KeyPair {
  readonly key: string;
  readonly cert: string;
}

const dir = mkdtempSync(join(tmpdir(), 'mpn-certs-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A P-256 key and a self-signed certificate for 127.0.0.1 and ::1 (made with openssl). */
export function selfSigned(name = 'node', days = 2): KeyPair {
  const base = join(dir, `${name}-${++counter}`);
  openssl(...selfSignedArgs(`${base}.key`, `${base}.crt`, days, name));
  return { key: readFileSync(`${base}.key`, 'utf8'), cert: readFileSync(`${base}.crt`, 'utf8') };
}

/** A CA, and a function that issues certificates signed by it (valid from `start` days ago, for `days`). */
export function certificateAuthority(name = 'ca'): KeyPair & { issue(subject: string, options?: { expired?: boolean }): KeyPair } {
  const ca = selfSigned(name, 30);
  const caBase = join(dir, `${name}-${++counter}`);
  writeFileSync(`${caBase}.key`, ca.key);
  writeFileSync(`${caBase}.crt`, ca.cert);
  return {
    ...ca,
    issue(subject, options = {}) {
      const base = join(dir, `${subject}-${++counter}`);
      openssl(
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.csr`,
        '-subj',
        `/CN=${subject}`,
        '-addext',
        'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
      );
      // `openssl ca` takes explicit dates (an expired certificate); it needs a small database of its own.
      writeFileSync(`${base}.index`, '');
      writeFileSync(`${base}.serial`, `${(counter + 16).toString(16).padStart(2, '0')}\n`);
      writeFileSync(
        `${base}.cnf`,
        `[ca]\ndefault_ca = local\n[local]\ndatabase = ${base}.index\nnew_certs_dir = ${dir}\nserial = ${base}.serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n[any]\ncommonName = supplied\n`,
      );
      const dates = options.expired ? ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z'] : ['-days', '2'];
      openssl(
        'ca',
        '-batch',
        '-notext',
        '-config',
        `${base}.cnf`,
        '-cert',
        `${caBase}.crt`,
        '-keyfile',
        `${caBase}.key`,
        '-in',
        `${base}.csr`,
        '-out',
        `${base}.crt`,
        ...dates,
      );
      return { key: readFileSync(`${base}.key`, 'utf8'), cert: readFileSync(`${base}.crt`, 'utf8') };
    },
  };
}
