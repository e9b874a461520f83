/** Which JavaScript runtime the specs run on, and how a program is started on it. */

/** The runtime of this spec run: the Node.js build also runs on Bun and Deno (README, "Runtimes"). */
export const runtime: 'node' | 'bun' | 'deno' = 'bun' in process.versions ? 'bun' : 'deno' in process.versions ? 'deno' : 'node';

/** The arguments that run `file` on this runtime's executable (`process.execPath`): Deno asks for its permissions. */
export function programArgs(file: string): string[] {
  return runtime === 'deno' ? ['run', '--allow-all', file] : [file];
}

/** A case that fails on one runtime for a reason of the runtime's: it is skipped there, and says why. */
export interface KnownFailure {
  readonly runtime: 'bun' | 'deno';
  /** The suite's full name, as Jasmine builds it (e.g. `transport compliance: tls byte streams`). */
  readonly suite: string;
  /** The case's title. */
  readonly spec: string;
  /** What the runtime does differently. */
  readonly why: string;
  /** The runtime's issue or pull request about it. */
  readonly issue: string;
}

/**
 * `it`, except on a runtime that has the case in `known`: there the case is
 * pending with the reason and the runtime's issue (Jasmine prints both), not
 * silently left out.
 */
export function itUnlessKnown(
  known: readonly KnownFailure[],
  suite: string,
): (title: string, body: () => Promise<void>, timeout?: number) => void {
  return (title, body, timeout) => {
    const failure = known.find((entry) => entry.runtime === runtime && entry.suite === suite && entry.spec === title);
    if (failure === undefined) it(title, body, timeout);
    else it(title, () => pending(`known ${runtime} failure: ${failure.why} (${failure.issue})`));
  };
}
