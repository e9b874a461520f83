/**
 * V8 keeps an object's integer-keyed properties ("elements") apart from its
 * named ones: in a flat array of slots ("fast", 8 bytes a slot, holes
 * included) or in a hash table ("dictionary"). A decoded MessagePack map is
 * a plain object, so a map with keys `1000, 2000, 3000` (13 bytes on the
 * wire) makes V8 allocate 3000 slots. This model follows V8's rules
 * (`ShouldConvertToSlowElements`, `ShouldConvertToFastElements` in
 * src/objects/js-objects.cc) closely enough to bound what each index key
 * costs, erring on the costly side, so the header scanner can count it
 * against `maxObjects`.
 */

/** A fast array grows only while an index is within this many slots of its capacity. */
const MAX_GAP = 1024;
/** Up to this capacity a young object's fast elements grow without a density check. */
const MAX_UNCHECKED = 5000;
/** Bytes per dictionary entry, generously (3 words, at a load factor down to a third). */
const DICTIONARY_ENTRY = 96;
/** The fast-capacity value of a map whose elements are a dictionary. */
const DICTIONARY = -2;
/** A dictionary's capacity for `n` entries, overestimated (twice V8's), so a return to fast elements is never missed. */
function dictionaryCapacity(n: number): number {
  let capacity = 8;
  while (capacity < n + (n >> 1)) capacity *= 2;
  return 2 * capacity;
}

/**
 * The element storage of the open maps of one value that have had an index
 * key, by nesting depth (a map with none costs nothing here, so most values
 * never touch it).
 */
export class ElementsModel {
  /** Four numbers per tracked map: its depth, its fast capacity (or DICTIONARY), its index keys so far, the largest. */
  private levels: number[] = [];

  /** The containers deeper than `depth` are closed: forget their maps. */
  closed(depth: number): void {
    const levels = this.levels;
    while (levels.length > 0 && levels[levels.length - 4]! > depth) levels.length -= 4;
  }

  /** Lets go of the storage when nothing is tracked (after the handshake: an idle connection holds none). */
  trim(): void {
    if (this.levels.length === 0) this.levels = [];
  }

  /**
   * An index key `k` (NaN: one that may be an index, its value not at hand)
   * of the map at `depth`: returns the bytes of element storage V8 may
   * allocate for it.
   */
  key(depth: number, k: number): number {
    const levels = this.levels;
    let i = levels.length - 4;
    if (i < 0 || levels[i] !== depth) {
      levels.push(depth, 0, 0, -1);
      i = levels.length - 4;
    }
    const count = ++levels[i + 2]!;
    const mode = levels[i + 1]!;
    if (mode >= 0) {
      const cap = mode;
      const key = Number.isNaN(k) ? cap + MAX_GAP - 1 : k;
      if (key < cap) return 0;
      levels[i + 3] = Math.max(levels[i + 3]!, key);
      const grown = key + 1 + ((key + 1) >> 1) + 16;
      if (key - cap >= MAX_GAP || (grown > MAX_UNCHECKED && 9 * dictionaryCapacity(count) <= grown)) {
        levels[i + 1] = DICTIONARY;
        return DICTIONARY_ENTRY;
      }
      levels[i + 1] = grown;
      return (grown - cap) * 8;
    }
    // A dictionary: an entry, and back to a flat array of max + 1 slots once it would save no more than half.
    const max = (levels[i + 3] = Math.max(levels[i + 3]!, Number.isNaN(k) ? -1 : k));
    if (6 * dictionaryCapacity(count) < max + 1) return DICTIONARY_ENTRY;
    levels[i + 1] = max + 1;
    return DICTIONARY_ENTRY + (max + 1) * 8;
  }
}
