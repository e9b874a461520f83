import { checkValidator, validate, type StandardSchemaV1 } from '../lib/validate.js';

const schema: StandardSchemaV1<number> = {
  '~standard': {
    version: 1,
    vendor: 'spec',
    validate: (v) => (typeof v === 'number' ? { value: v * 2 } : { issues: [{ message: 'nan' }] }),
  },
};
const asyncSchema: StandardSchemaV1<number> = {
  '~standard': { version: 1, vendor: 'spec', validate: (v) => Promise.resolve({ value: v as number }) },
};

describe('validate', () => {
  it('passes values through without a validator', () => {
    expect(validate(undefined, 5)).toEqual({ ok: true, value: 5 });
  });

  it('runs type guards', () => {
    const isNumber = (v: unknown): v is number => typeof v === 'number';
    expect(validate(isNumber, 1).ok).toBeTrue();
    expect(validate(isNumber, 'x').ok).toBeFalse();
  });

  it('runs Standard Schema validators and keeps their output', () => {
    expect(validate(schema, 2)).toEqual({ ok: true, value: 4 });
    expect(validate(schema, 'x')).toEqual({ ok: false, reason: 'nan' });
  });

  it('refuses asynchronous schemas (the read path is synchronous)', () => {
    expect(validate(asyncSchema, 1).ok).toBeFalse();
  });

  it('rejects what is not a validator', () => {
    expect(() => checkValidator('v', 5)).toThrowError(TypeError);
    expect(() => checkValidator('v', schema)).not.toThrow();
  });

  it('refuses a validator that answers with a Promise or any thenable (a type guard too), and handles its rejection', () => {
    // What `async (value) => false` is: a guard answering with a Promise.
    const asyncGuard = (() => Promise.resolve(false)) as unknown as (value: unknown) => value is number;
    expect(validate(asyncGuard, 1)).toEqual({ ok: false, reason: jasmine.stringContaining('only synchronous validators') });
    let handled = false;
    const thenable = {
      then(_resolve: unknown, reject?: (reason: unknown) => void) {
        handled = reject !== undefined;
      },
    };
    const thenableSchema: StandardSchemaV1<number> = {
      '~standard': { version: 1, vendor: 'spec', validate: () => thenable as unknown as Promise<{ value: number }> },
    };
    expect(validate(thenableSchema, 1)).toEqual({ ok: false, reason: jasmine.stringContaining('asynchronously') });
    expect(handled).toBeTrue();
  });
});
