import { newConnectionWins } from '../../lib/node/duplicates.js';

describe('newConnectionWins (the duplicate-connection rule)', () => {
  it('between two connections opened by the same side, the newer wins', () => {
    expect(newConnectionWins(true, true, 'a', 'b')).toBeTrue();
    expect(newConnectionWins(false, false, 'a', 'b')).toBeTrue();
  });

  it('between connections opened by different sides, the one opened by the smaller key wins, on both sides', () => {
    // node a (smaller) sees: existing incoming (opened by b), new outgoing (opened by a) -> the new wins
    expect(newConnectionWins(false, true, 'a', 'b')).toBeTrue();
    // node b sees the same pair the other way round: existing outgoing (opened by b), new incoming (opened by a) -> the new wins too
    expect(newConnectionWins(true, false, 'b', 'a')).toBeTrue();
    // and when the connection opened by a came first, both keep it
    expect(newConnectionWins(true, false, 'a', 'b')).toBeFalse();
    expect(newConnectionWins(false, true, 'b', 'a')).toBeFalse();
  });
});
