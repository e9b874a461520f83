/**
 * The duplicate-connection rule: when a second connection to an already
 * connected node id is accepted, does the new one replace the registered one?
 *
 * - Between connections opened by different sides, the one opened by the
 *   node whose id key sorts first wins (both sides compute the same answer).
 * - Between two opened by the same side (a reconnect), the newer wins.
 *
 * `ourKey` and `peerKey` are `nodeIdKey`s; they are never equal (a node
 * refuses to connect to itself).
 */
export function newConnectionWins(existingOutgoing: boolean, newOutgoing: boolean, ourKey: string, peerKey: string): boolean {
  if (existingOutgoing === newOutgoing) return true;
  const openedBySmaller = newOutgoing ? ourKey < peerKey : peerKey < ourKey;
  return openedBySmaller;
}
