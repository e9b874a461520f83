import { TestScheduler } from 'rxjs/testing';

/** A fresh TestScheduler per spec, asserting with Jasmine's deep equality. */
export function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** Matches a NetError by code (and any other fields), never by message text. */
export function netError(code: string, fields: Record<string, unknown> = {}): jasmine.AsymmetricMatcher<unknown> {
  return jasmine.objectContaining({ name: 'NetError', code, ...fields });
}
