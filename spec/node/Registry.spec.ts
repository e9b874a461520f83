import { Registry } from '../../lib/node/Registry.js';

const connection = (key: string, outgoing: boolean): { key: string; outgoing: boolean } => ({ key, outgoing });

describe('Registry', () => {
  it('refuses by maxPendingHandshakes while that many incoming connections are undecided, then by maxConnections', () => {
    const registry = new Registry({ maxPendingHandshakes: 2, maxConnections: 3 });
    const a = connection('sa', false);
    const b = connection('sb', false);
    registry.add(a, true);
    expect(registry.refusal()).toBeUndefined();
    registry.add(b, true);
    expect(registry.refusal()).toEqual({ limit: 'maxPendingHandshakes', max: 2 });
    registry.decided(a);
    expect(registry.refusal()).toBeUndefined();
    registry.add(connection('sc', true), false); // outgoing: never pending here
    expect(registry.refusal()).toEqual({ limit: 'maxConnections', max: 3 });
    registry.remove(b);
    expect(registry.refusal()).toBeUndefined();
  });

  it('registers by key; the duplicate rule picks the winner; unregister and remove forget it', () => {
    const registry = new Registry({ maxPendingHandshakes: 10, maxConnections: 10 });
    const first = connection('speer', true);
    registry.add(first, false);
    expect(registry.register(first, 'sme')).toBeUndefined();
    expect(registry.get('speer')).toBe(first);
    // A second connection opened by the same side (a reconnect): the newer wins, the older is returned.
    const second = connection('speer', true);
    registry.add(second, false);
    expect(registry.register(second, 'sme')).toBe(first);
    expect(registry.get('speer')).toBe(second);
    // One opened by the peer: the side whose key sorts first ('sme' < 'speer') opened the winner, so ours stays.
    const theirs = connection('speer', false);
    expect(registry.register(theirs, 'sme')).toBe(theirs);
    expect(registry.get('speer')).toBe(second);
    registry.unregister(first); // not the registered one: nothing
    expect(registry.size).toBe(1);
    registry.remove(second);
    expect(registry.get('speer')).toBeUndefined();
    expect(registry.size).toBe(0);
  });

  it('remembers the last send to a primitive id, and forgets it whenever the registry changes', () => {
    const registry = new Registry({ maxPendingHandshakes: 10, maxConnections: 10 });
    const peer = connection('s1', true);
    registry.register(peer, 'sme');
    registry.remember('1', peer);
    expect(registry.lastSend('1')).toBe(peer);
    expect(registry.lastSend('2')).toBeUndefined();
    registry.remember([1], peer); // objects are never remembered (compared by value, not identity)
    expect(registry.lastSend('1')).toBe(peer);
    registry.unregister(peer);
    expect(registry.lastSend('1')).toBeUndefined();
  });
});
