// gridmint explorer: BLAKE3 of one chunk (inputs of at most 1,024 bytes), written for the
// "verify in my browser" check of a reward proof. The proof's messages are 68 bytes (a leaf:
// "gridmint/reward-leaf" ‖ address ‖ total as u128 LE) and 65 bytes (a node: 0x01 ‖ left ‖
// right), so one chunk is all this page ever hashes. Longer inputs throw rather than hash wrong.
// Written from the BLAKE3 specification (hash and keyed_hash modes; no tree, no XOF); a Rust test
// runs it in Chromium against the blake3 crate on every length from 0 to 1,024.
// No dependency; exposes one global, `gridmintBlake3`.
(function () {
  'use strict';

  var IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  var PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
  var CHUNK_START = 1;
  var CHUNK_END = 2;
  var ROOT = 8;
  var KEYED_HASH = 16;
  var CHUNK_LEN = 1024;
  var BLOCK_LEN = 64;

  function rotr(x, n) {
    return (x >>> n) | (x << (32 - n));
  }

  // the quarter-round on the state words a, b, c, d with message words x, y
  function g(s, a, b, c, d, x, y) {
    s[a] = s[a] + s[b] + x;
    s[d] = rotr(s[d] ^ s[a], 16);
    s[c] = s[c] + s[d];
    s[b] = rotr(s[b] ^ s[c], 12);
    s[a] = s[a] + s[b] + y;
    s[d] = rotr(s[d] ^ s[a], 8);
    s[c] = s[c] + s[d];
    s[b] = rotr(s[b] ^ s[c], 7);
  }

  // the compression function: the first 8 words of its output (all a one-chunk hash needs);
  // the chunk counter is always 0 here
  function compress(cv, m, blockLen, flags) {
    var s = new Uint32Array(16);
    var i;
    for (i = 0; i < 8; i++) s[i] = cv[i];
    for (i = 0; i < 4; i++) s[8 + i] = IV[i];
    s[12] = 0;
    s[13] = 0;
    s[14] = blockLen;
    s[15] = flags;
    var words = Uint32Array.from(m);
    for (var round = 0; round < 7; round++) {
      g(s, 0, 4, 8, 12, words[0], words[1]);
      g(s, 1, 5, 9, 13, words[2], words[3]);
      g(s, 2, 6, 10, 14, words[4], words[5]);
      g(s, 3, 7, 11, 15, words[6], words[7]);
      g(s, 0, 5, 10, 15, words[8], words[9]);
      g(s, 1, 6, 11, 12, words[10], words[11]);
      g(s, 2, 7, 8, 13, words[12], words[13]);
      g(s, 3, 4, 9, 14, words[14], words[15]);
      var next = new Uint32Array(16);
      for (i = 0; i < 16; i++) next[i] = words[PERMUTATION[i]];
      words = next;
    }
    var out = new Uint32Array(8);
    for (i = 0; i < 8; i++) out[i] = s[i] ^ s[i + 8];
    return out;
  }

  function wordsOf(bytes, offset, length) {
    var m = new Uint32Array(16);
    for (var i = 0; i < length; i++) {
      m[i >> 2] |= bytes[offset + i] << (8 * (i & 3));
    }
    return m;
  }

  function hashWith(bytes, cv, modeFlags) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('blake3: the input must be a Uint8Array');
    if (bytes.length > CHUNK_LEN) throw new RangeError('blake3: this one-chunk implementation takes at most 1024 bytes');
    var blocks = Math.max(1, Math.ceil(bytes.length / BLOCK_LEN));
    for (var b = 0; b < blocks; b++) {
      var offset = b * BLOCK_LEN;
      var length = Math.min(BLOCK_LEN, bytes.length - offset);
      var flags = modeFlags;
      if (b === 0) flags |= CHUNK_START;
      if (b === blocks - 1) flags |= CHUNK_END | ROOT;
      cv = compress(cv, wordsOf(bytes, offset, length), length, flags);
    }
    var out = new Uint8Array(32);
    for (var i = 0; i < 32; i++) out[i] = (cv[i >> 2] >>> (8 * (i & 3))) & 0xff;
    return out;
  }

  /** blake3(bytes): 32 bytes. */
  function hash(bytes) {
    return hashWith(bytes, Uint32Array.from(IV), 0);
  }

  /** blake3 keyed with a 32-byte key: 32 bytes. */
  function keyedHash(key, bytes) {
    if (!(key instanceof Uint8Array) || key.length !== 32) throw new TypeError('blake3: the key must be 32 bytes');
    return hashWith(bytes, wordsOf(key, 0, 32).subarray(0, 8), KEYED_HASH);
  }

  function toHex(bytes) {
    var hex = '';
    for (var i = 0; i < bytes.length; i++) hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return hex;
  }

  window.gridmintBlake3 = Object.freeze({ hash: hash, keyedHash: keyedHash, toHex: toHex, MAX_INPUT: CHUNK_LEN });
})();
