import xxhash from 'xxhash-wasm';

// xxHash32 from a maintained WebAssembly build. Instantiating the module is
// asynchronous (it compiles an embedded buffer, no I/O), so it happens once
// here with top-level await: every importer gets a ready, synchronous hash.
const { h32 } = await xxhash();

/**
 * A string (routing key, member identity) → unsigned 32-bit integer, well
 * distributed (xxHash32). Different seeds give independent hash functions.
 */
export function hashString(s: string, seed = 0): number {
  return h32(s, seed) >>> 0;
}

/**
 * MurmurHash3's 32-bit finaliser: a bijection on 32-bit integers with full
 * avalanche, a few multiplications and no allocation. Used where a hash must
 * run on every request.
 */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * An integer key → a well-spread unsigned 32-bit position. Request ids are
 * 6-digit integers (a 20-bit range) and routing keys are already 32-bit
 * hashes; both must cover the whole 32-bit circle evenly before a
 * position-based lookup. Keys above 2^32 have their high word folded in.
 */
export function mixKey(key: number): number {
  const high = key > 0xffffffff ? Math.floor(key / 0x100000000) : 0;
  return fmix32((key ^ Math.imul(high, 0x9e3779b1)) >>> 0);
}
