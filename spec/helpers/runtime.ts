/** Which JavaScript runtime the specs run on, and how a program is started on it. */

/** The runtime of this spec run: the Node.js build also runs on Bun and Deno (README, "Runtimes"). */
export const runtime: 'node' | 'bun' | 'deno' = 'bun' in process.versions ? 'bun' : 'deno' in process.versions ? 'deno' : 'node';

/** The arguments that run `file` on this runtime's executable (`process.execPath`): Deno asks for its permissions. */
export function programArgs(file: string): string[] {
  return runtime === 'deno' ? ['run', '--allow-all', file] : [file];
}

/** A case that fails on one runtime for a reason of the runtime's: it is not run there, and the run says why. */
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
 * not defined (a pending spec would count as a skipped test), and the run
 * prints one line naming it, the reason and the runtime's issue, so it is
 * never silently left out. Every other runtime runs it.
 */
export function itUnlessKnown(
  known: readonly KnownFailure[],
  suite: string,
): (title: string, body: () => Promise<void>, timeout?: number) => void {
  return (title, body, timeout) => {
    const failure = known.find((entry) => entry.runtime === runtime && entry.suite === suite && entry.spec === title);
    if (failure === undefined) it(title, body, timeout);
    else console.log(`not run on ${runtime}: ${suite} ${title}: ${failure.why} (${failure.issue})`);
  };
}

/**
 * `it` on Node.js only, for what does not depend on the runtime (type
 * checks): the Bun and Deno runs do not define it, rather than skip it.
 */
export function itOnNode(title: string, body: () => void | Promise<void>, timeout?: number): void {
  if (runtime === 'node') it(title, body, timeout);
}
