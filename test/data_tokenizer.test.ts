// The tokenizer wrapper against js-tiktoken itself: encodeOrdinary (with its piece cache) must give
// exactly js-tiktoken's encode_ordinary ids, decode must invert it; GPT-2's ids are js-tiktoken's.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2 from 'js-tiktoken/ranks/gpt2';
import { decode, encodeOrdinary } from '../src/data/tokenizer.ts';
import { EOT, VOCAB_SIZE } from '../src/gpt2/config.ts';

const reference = new Tiktoken(gpt2);
const encodeReference = (text: string) => reference.encode(text, [], []);

// Pieces that exercise the pre-tokenizer regex: contractions, runs of spaces before words and at
// the end, newlines, digits, punctuation runs, non-ASCII letters, emoji, and special-token text.
const piece = fc.constantFrom(
  'Once', ' upon', ' a', ' time', ' ', '  ', '   ', '\n', '\n\n', ' \n', '\t', "'s", "'ll", "'t", "don't", "'",
  '123', ' 4567', '!', '?!', '..."', ' "', 'é', ' naïve', '日本語', '😀', ' 😀😀', '<|endoftext|>', '<|', 'Lily',
);
const text = fc.oneof(fc.array(piece, { maxLength: 40 }).map((p) => p.join('')), fc.string({ maxLength: 60, unit: 'grapheme' }));

test('encodeOrdinary equals js-tiktoken encode_ordinary, cache or not', () => {
  fc.assert(
    fc.property(text, (s) => {
      assert.deepEqual(encodeOrdinary(s), encodeReference(s)); // first call may fill the cache
      assert.deepEqual(encodeOrdinary(s), encodeReference(s)); // second call reads it
    }),
    { numRuns: 500 },
  );
});

test('special-token text is ordinary text; decode inverts encode', () => {
  const ids = encodeOrdinary('The end.<|endoftext|>Once');
  assert.ok(!ids.includes(EOT), 'no EOT id from text');
  assert.equal(decode(ids), 'The end.<|endoftext|>Once');
  assert.equal(decode([...encodeOrdinary('Hi'), EOT]), 'Hi<|endoftext|>');
  assert.equal(decode(Int32Array.from(encodeOrdinary(' naïve 😀\n'))), ' naïve 😀\n');
  fc.assert(fc.property(text, (s) => decode(encodeOrdinary(s)) === s), { numRuns: 200 });
});

test("GPT-2's vocabulary (gpt2/config.ts) is the tokenizer's: 50257 ids, <|endoftext|> the last", () => {
  assert.equal(reference.decode([EOT]), '<|endoftext|>');
  assert.equal(VOCAB_SIZE, EOT + 1);
  assert.equal(encodeReference('<|endoftext|>').length, 7, 'special-token text is ordinary text');
});
