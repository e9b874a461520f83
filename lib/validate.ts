/**
 * The part of the Standard Schema interface (https://standardschema.dev)
 * that msgpacknet uses: zod, valibot, arktype and others implement it.
 */
export interface StandardSchemaV1<Output = unknown> {
  /** The Standard Schema properties. */
  readonly '~standard': {
    /** The version of the Standard Schema interface: 1. */
    readonly version: 1;
    /** The library that made the schema (`'zod'`, `'valibot'`, ...). */
    readonly vendor: string;
    /** Validates a value: the (possibly transformed) value, or the issues. msgpacknet needs an answer that is not a Promise. */
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
  };
}

/** A Standard Schema validation result. */
export type StandardResult<Output> =
  { readonly value: Output; readonly issues?: undefined } | { readonly issues: readonly { readonly message: string }[] };

/** A type guard, or a Standard Schema validator, for values of type `T` read from the wire. */
export type Validator<T> = ((value: unknown) => value is T) | StandardSchemaV1<T>;

/** The outcome of {@link validate}: the (possibly transformed) value, or why it failed. */
export type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/**
 * Runs a validator synchronously. A Standard Schema validator that answers
 * with a Promise fails: validation sits on the read path, which is
 * synchronous (the README says so).
 */
export function validate<T>(validator: Validator<T> | undefined, value: unknown): Validated<T> {
  if (validator === undefined) return { ok: true, value: value as T };
  if (typeof validator === 'function') {
    const verdict: unknown = validator(value);
    if (isThenable(verdict)) return asynchronous(verdict, 'the type guard answers with a Promise');
    return verdict ? { ok: true, value: value as T } : { ok: false, reason: 'rejected by the type guard' };
  }
  const result = validator['~standard'].validate(value);
  if (isThenable(result)) return asynchronous(result, 'the schema validates asynchronously');
  if (result.issues) return { ok: false, reason: result.issues.map((issue) => issue.message).join('; ') };
  return { ok: true, value: result.value };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** A validator that answered with a Promise (or any thenable): refused, its rejection handled. */
function asynchronous(answer: PromiseLike<unknown>, what: string): Validated<never> {
  answer.then(undefined, () => undefined); // never an unhandled rejection
  return { ok: false, reason: `${what}; only synchronous validators are supported` };
}

/** Throws a `TypeError` at once when `validator` is neither a function nor a Standard Schema. */
export function checkValidator(name: string, validator: unknown): void {
  if (validator === undefined || typeof validator === 'function') return;
  if (typeof validator === 'object' && validator !== null && '~standard' in validator) return;
  throw new TypeError(`${name} must be a type guard function or a Standard Schema validator`);
}
