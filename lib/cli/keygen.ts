// `msgpacknet keygen`: a P-256 key and a self-signed certificate (made by the openssl command),
// whose certificateId is a key-bound node id; and reading the --tls-* files of the node commands.
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateId } from '../certificateId.js';
import type { NodeTlsOptions } from '../transport/tls.js';

/** A failure with a message meant for the user as it is (exit 1). */
export class CliError extends Error {}

export interface KeygenResult {
  readonly nodeId: string;
  readonly key: string;
  readonly cert: string;
}

/** Days a generated certificate is valid (about 10 years). */
export const KEYGEN_DAYS = 3650;

/**
 * The openssl arguments for a P-256 key and a self-signed certificate for
 * 127.0.0.1, ::1 and localhost (keygen, and the specs' and benchmark's
 * test certificates).
 */
export function selfSignedArgs(keyPath: string, certPath: string, days: number, commonName: string): string[] {
  return [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-sha256',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    String(days),
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
  ];
}

function openssl(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 60_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        reject(new CliError('keygen needs the openssl command, which is not on the PATH (Debian/Ubuntu: apt-get install openssl)'));
      } else {
        const detail = stderr.trim().split('\n').filter(Boolean).slice(-3).join('; ');
        reject(new CliError(`openssl failed: ${detail || error.message}`));
      }
    });
  });
}

/**
 * Writes `node.key` (PEM, mode 0600) and `node.crt` (self-signed, P-256, for 127.0.0.1, ::1 and
 * localhost, valid {@link KEYGEN_DAYS} days) into `dir`, and returns their node id. Refuses to
 * overwrite either file unless `force`.
 */
export async function keygen(dir: string, force: boolean): Promise<KeygenResult> {
  const keyPath = join(dir, 'node.key');
  const certPath = join(dir, 'node.crt');
  if (!force) {
    for (const path of [keyPath, certPath]) {
      if (await exists(path)) throw new CliError(`${path} exists; keygen does not overwrite it without --force`);
    }
  }
  // openssl writes into a private scratch folder; the files in `dir` are then created afresh.
  const scratch = await mkdtemp(join(tmpdir(), 'msgpacknet-keygen-'));
  try {
    await openssl(selfSignedArgs(join(scratch, 'node.key'), join(scratch, 'node.crt'), KEYGEN_DAYS, 'msgpacknet node'));
    const key = await readFile(join(scratch, 'node.key'));
    const cert = await readFile(join(scratch, 'node.crt'), 'utf8');
    const nodeId = certificateId(cert);
    await mkdir(dir, { recursive: true });
    if (force) await Promise.all([rm(keyPath, { force: true }), rm(certPath, { force: true })]);
    // 'wx': created here, never through an existing file or link, with the mode set at creation.
    await writeFile(keyPath, key, { mode: 0o600, flag: 'wx' });
    try {
      await writeFile(certPath, cert, { mode: 0o644, flag: 'wx' });
    } catch (error) {
      await rm(keyPath, { force: true });
      throw error;
    }
    return { nodeId, key: keyPath, cert: certPath };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Whether anything (a file, a folder, even a dangling link) is at `path`. */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** The --tls-* options of listen, connect and send. */
export interface TlsFlags {
  readonly 'tls-key'?: string | undefined;
  readonly 'tls-cert'?: string | undefined;
  readonly 'tls-ca'?: string[] | undefined;
  readonly 'authenticate-ids'?: boolean | undefined;
}

/** Reads the files the --tls-* flags name; `undefined` when none is given. */
export async function readTlsFlags(flags: TlsFlags): Promise<NodeTlsOptions | undefined> {
  const read = async (flag: string, path: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
      throw new CliError(`cannot read --${flag} ${path}: ${reason}`);
    }
  };
  const key = flags['tls-key'] === undefined ? undefined : await read('tls-key', flags['tls-key']);
  const cert = flags['tls-cert'] === undefined ? undefined : await read('tls-cert', flags['tls-cert']);
  const ca = flags['tls-ca'] === undefined ? [] : await Promise.all(flags['tls-ca'].map((path) => read('tls-ca', path)));
  if (key === undefined && cert === undefined && ca.length === 0) return undefined;
  return {
    ...(key === undefined ? {} : { key }),
    ...(cert === undefined ? {} : { cert }),
    ...(ca.length === 0 ? {} : { ca: ca.length === 1 ? ca[0]! : ca }),
  };
}

/** The certificateId of a --tls-cert file's contents, or a CliError naming the file. */
export function idOfCertificate(cert: string, path: string): string {
  try {
    return certificateId(cert);
  } catch (error) {
    throw new CliError(`--tls-cert ${path} is not a certificate: ${error instanceof Error ? error.message : String(error)}`);
  }
}
