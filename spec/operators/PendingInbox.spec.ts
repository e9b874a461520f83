import { NetError } from '../../lib/errors.js';
import { PendingInbox } from '../../lib/operators/PendingInbox.js';

describe('PendingInbox (the pending messages of handshake and of a connection)', () => {
  function drained<T>(inbox: PendingInbox<T>, open: () => boolean = () => true): { values: T[]; ends: unknown[] } {
    const values: T[] = [];
    const ends: unknown[] = [];
    inbox.drain(
      (value) => values.push(value),
      open,
      (error) => ends.push(error),
    );
    return { values, ends };
  }

  it('keeps up to max values, then refuses the next with the maxPending error and keeps nothing of it', () => {
    const inbox = new PendingInbox<number>(2);
    expect(inbox.keep(1)).toBeUndefined();
    expect(inbox.keep(2)).toBeUndefined();
    const overflow = inbox.keep(3);
    expect(overflow).toEqual(jasmine.any(NetError));
    expect(overflow).toEqual(jasmine.objectContaining({ code: 'READ_ERROR', limit: 'maxPending', max: 2, actual: 3 }));
    expect(drained(inbox)).toEqual({ values: [1, 2], ends: [] });
  });

  it('a max of 0 keeps nothing; a raised max keeps more', () => {
    const inbox = new PendingInbox<string>(0);
    expect(inbox.keep('a')).toEqual(jasmine.objectContaining({ limit: 'maxPending', max: 0 }));
    inbox.max = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 1000; i++) expect(inbox.keep(`v${i}`)).toBeUndefined();
    expect(drained(inbox).values.length).toBe(1000);
  });

  it('hands the values, then the end in order (undefined) or the first error; later ends are ignored', () => {
    const inOrder = new PendingInbox<number>(5);
    inOrder.keep(1);
    inOrder.end();
    inOrder.end(new Error('late'));
    expect(inOrder.ended).toBeTrue();
    expect(drained(inOrder)).toEqual({ values: [1], ends: [undefined] });

    const failed = new PendingInbox<number>(5);
    const error = new Error('reset');
    failed.end(error);
    failed.end();
    expect(drained(failed)).toEqual({ values: [], ends: [error] });
  });

  it('stops handing on when the consumer closes inside next, and drops the rest and the end', () => {
    const inbox = new PendingInbox<number>(5);
    [1, 2, 3].forEach((value) => inbox.keep(value));
    inbox.end();
    let open = true;
    const values: number[] = [];
    const ends: unknown[] = [];
    inbox.drain(
      (value) => {
        values.push(value);
        if (value === 2) open = false;
      },
      () => open,
      (end) => ends.push(end),
    );
    expect(values).toEqual([1, 2]);
    expect(ends).toEqual([]);
    expect(drained(inbox)).toEqual({ values: [], ends: [undefined] });
  });

  it('clear drops what is kept but not the end', () => {
    const inbox = new PendingInbox<number>(5);
    inbox.keep(1);
    inbox.end();
    inbox.clear();
    expect(drained(inbox)).toEqual({ values: [], ends: [undefined] });
  });
});
