// gridmint explorer: "verify in my browser" (X2). Recomputes an epoch's rewards root from a
// reward proof (the JSON in the page's text area, which anyone may replace) with the BLAKE3 of
// blake3.js, and compares it with the expected root (the field beside it). Exactly the check of
// `RewardProof::verify`:
//   leaf = blake3("gridmint/reward-leaf" ‖ address (32 bytes) ‖ rewards_total as u128 LE)
//   node = blake3(0x01 ‖ left ‖ right)
// climbing from the leaf at `index` among `leaf_count` leaves: a level where the node has no
// sibling (position ^ 1 >= count) is skipped; an even position is the left child. The proof
// fails when `index >= leaf_count` or siblings are missing or left over. Writes only text.
(function () {
  'use strict';

  var LEAF_TAG = 'gridmint/reward-leaf';
  var U128_MAX = (BigInt(1) << BigInt(128)) - BigInt(1);

  function fail(reason) {
    var e = new Error(reason);
    e.malformed = true;
    return e;
  }

  function hexBytes(text, what) {
    if (typeof text !== 'string' || !/^[0-9a-fA-F]{64}$/.test(text)) {
      throw fail(what + ' must be 64 hex digits');
    }
    var out = new Uint8Array(32);
    for (var i = 0; i < 32; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  function u128Bytes(text) {
    if (typeof text !== 'string' || !/^[0-9]{1,39}$/.test(text)) {
      throw fail('rewards_total must be a decimal string of base units');
    }
    var v = BigInt(text);
    if (v > U128_MAX) throw fail('rewards_total is larger than a u128');
    var out = new Uint8Array(16);
    for (var i = 0; i < 16; i++) {
      out[i] = Number(v & BigInt(255));
      v >>= BigInt(8);
    }
    return out;
  }

  function count(value, what) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw fail(what + ' must be a whole number below 2^53');
    }
    return value;
  }

  function leaf(address, total) {
    var message = new Uint8Array(LEAF_TAG.length + 32 + 16);
    for (var i = 0; i < LEAF_TAG.length; i++) message[i] = LEAF_TAG.charCodeAt(i);
    message.set(address, LEAF_TAG.length);
    message.set(total, LEAF_TAG.length + 32);
    return gridmintBlake3.hash(message);
  }

  function node(left, right) {
    var message = new Uint8Array(65);
    message[0] = 1;
    message.set(left, 1);
    message.set(right, 33);
    return gridmintBlake3.hash(message);
  }

  /** The root a proof leads to, or an Error marked `malformed` saying what is wrong with it. */
  function rootOf(proof) {
    if (proof === null || typeof proof !== 'object' || Array.isArray(proof)) throw fail('the proof must be a JSON object');
    // the API's whole answer ({epoch, rewards_root, proof}) is accepted too
    if (proof.proof !== undefined && proof.address === undefined) proof = proof.proof;
    var address = hexBytes(proof.address, 'address');
    var total = u128Bytes(proof.rewards_total);
    var index = count(proof.index, 'index');
    var leafCount = count(proof.leaf_count, 'leaf_count');
    if (!Array.isArray(proof.siblings)) throw fail('siblings must be a list of hashes');
    var siblings = proof.siblings.map(function (s, i) { return hexBytes(s, 'sibling ' + i); });
    if (index >= leafCount) throw fail('index ' + index + ' is not below leaf_count ' + leafCount);
    var hash = leaf(address, total);
    var position = index;
    var n = leafCount;
    var used = 0;
    while (n > 1) {
      // position ^ 1 on numbers above 2^31 would wrap: compute the sibling's position exactly
      var sibling = position % 2 === 0 ? position + 1 : position - 1;
      if (sibling < n) {
        if (used >= siblings.length) throw fail('the proof has ' + siblings.length + ' siblings; its shape needs more');
        var other = siblings[used++];
        hash = position % 2 === 0 ? node(hash, other) : node(other, hash);
      }
      position = Math.floor(position / 2);
      n = Math.ceil(n / 2);
    }
    if (used !== siblings.length) throw fail('the proof has ' + siblings.length + ' siblings; its shape uses ' + used);
    return hash;
  }

  /** {pass, text}: the verdict on a proof (JSON text) against a root (hex text). */
  function check(proofText, rootText) {
    var expected;
    try {
      expected = gridmintBlake3.toHex(hexBytes(rootText.trim().toLowerCase(), 'the expected root'));
    } catch (e) {
      return { pass: false, text: 'FAIL: ' + e.message + '.' };
    }
    var proof;
    try {
      proof = JSON.parse(proofText);
    } catch (e) {
      return { pass: false, text: 'FAIL: the proof is not valid JSON (' + e.message + ').' };
    }
    var computed;
    try {
      computed = gridmintBlake3.toHex(rootOf(proof));
    } catch (e) {
      if (!e.malformed) throw e;
      return { pass: false, text: 'FAIL: the proof is malformed: ' + e.message + '.' };
    }
    if (computed === expected) {
      return { pass: true, text: 'PASS: the root recomputed from this proof, ' + computed + ', equals the expected root.', computed: computed };
    }
    return {
      pass: false,
      text: 'FAIL: the root recomputed from this proof is ' + computed + ', the expected root is ' + expected +
        ': this proof does not belong to that root (a changed amount, address, index or sibling).',
      computed: computed
    };
  }

  function run() {
    var proof = document.getElementById('proof');
    var root = document.getElementById('root');
    var result = document.getElementById('verify-result');
    var verdict = check(proof.value, root.value);
    result.textContent = verdict.text;
    result.setAttribute('data-result', verdict.pass ? 'pass' : 'fail');
    result.className = verdict.pass ? 'ok' : 'refused';
  }

  window.gridmintVerify = Object.freeze({ check: check });

  document.addEventListener('DOMContentLoaded', function () {
    var button = document.getElementById('verify');
    if (button) {
      button.disabled = false;
      button.addEventListener('click', run);
    }
  });
})();
