// The core's regular expressions (assembly/route/regex.ts): RE2 syntax, whole-value matching, time
// linear in the input. Checked against hand-written cases from the RE2 syntax page, against
// JavaScript's RegExp on patterns whose meaning is the same in both (random ones too), and on the
// patterns that make backtracking engines explode.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { CoreRegex, checkRegex, RegexSyntaxError } from '../../dist/host/core/regex.js';

function matches(pattern, input) {
  const re = new CoreRegex(pattern);
  try { return re.test(input); } finally { re.free(); }
}

const cases = [
  // [pattern, input, whole-value match?]
  ['/foo', '/foo', true],
  ['/foo', '/foo/', false],
  ['/foo', '/fo', false],
  ['', '', true],
  ['', 'a', false],
  ['/v[0-9]+/items', '/v12/items', true],
  ['/v[0-9]+/items', '/v/items', false],
  ['/v\\d+/items/\\d{3}', '/v2/items/123', true],
  ['/v\\d+/items/\\d{3}', '/v2/items/1234', false],
  ['/(a|b|c)+', '/abcabc', true],
  ['/(a|b|c)+', '/abcd', false],
  ['/(?:foo|bar)/.*', '/bar/anything/here', true],
  ['/(?:foo|bar)/.*', '/baz/x', false],
  ['.*\\.(png|jpe?g)', '/img/a.jpeg', true],
  ['.*\\.(png|jpe?g)', '/img/a.gif', false],
  ['[^/]+', 'segment', true],
  ['[^/]+', 'two/segments', false],
  ['a{2,3}', 'a', false],
  ['a{2,3}', 'aa', true],
  ['a{2,3}', 'aaa', true],
  ['a{2,3}', 'aaaa', false],
  ['a{2,}', 'aaaaaa', true],
  ['a{0}b', 'b', true],
  ['a{,3}', 'a{,3}', true], // not a repeat: literal braces, as in RE2
  ['x{', 'x{', true],
  ['^/abc$', '/abc', true],
  ['\\A/abc\\z', '/abc', true],
  ['a\\bb', 'ab', false],
  ['a\\b-', 'a-', true],
  ['a\\Bb', 'ab', true],
  ['(?i)/Users/[a-z]+', '/USERS/Bob', true],
  ['(?i:ab)c', 'ABc', true],
  ['(?i:ab)c', 'ABC', false],
  ['(?i)[^a-z]', 'Q', false],
  ['a.c', 'a\nc', false],
  ['(?s)a.c', 'a\nc', true],
  ['(?m)^b$', 'b', true],
  ['\\x41\\x{42}\\t', 'AB\t', true],
  ['\\Q.*+?\\E', '.*+?', true],
  ['\\Q.*+?\\E', 'abcd', false],
  ['[[:digit:]]+-[[:^alpha:]]', '42-7', true],
  ['[[:digit:]]+-[[:^alpha:]]', '42-x', false],
  ['[]a]+', ']a]', true],
  ['[a-]+', 'a-a', true],
  ['[\\d\\s]+', '1 2\t3', true],
  ['\\W+', '/-/', true],
  ['(?P<id>[0-9]+)-(?<name>\\w+)', '12-ab_c', true],
  ['a*?b', 'aaab', true], // lazy: the same set of matches
  ['(a*)*', 'aaaa', true],
  ['(a|)+b', 'aab', true],
  ['(|a)*', '', true],
  ['/caf\u00e9', Buffer.from('/caf\u00e9', 'utf8'), true], // UTF-8 in the pattern matches the same bytes
  ['application/grpc(\\+proto)?', 'application/grpc+proto', true],
  ['application/grpc(\\+proto)?', 'application/grpc+json', false],
];

test('RE2 syntax: whole-value matches', () => {
  for (const [pattern, input, want] of cases) {
    assert.is(matches(pattern, input), want, `${JSON.stringify(pattern)} on ${JSON.stringify(String(input))}`);
  }
});

const refused = [
  ['(abc', 1], ['abc)', 2], ['[abc', 3], ['[z-a]', 4], ['abc\\', 5], ['\\q', 5], ['*a', 6], ['a|*', 6], ['(?i)*', 6],
  ['a**', 7], ['a{3,2}', 7], ['a{1001}', 8], ['(a)\\1', 9], ['a(?=b)', 9], ['a(?!b)', 9], ['(?<=a)b', 9], ['(?<!a)b', 9],
  ['\\pL', 9], ['\\p{Greek}', 9], ['a*+', 9], ['(?z)', 10], ['(?P<1-x>a)', 10], ['(?)', 10], ['[[:nope:]]', 12],
  ['((((a{100}){100}){100}))', 11],
];

test('invalid or unsupported patterns are refused with the reason and where', () => {
  for (const [pattern, code] of refused) {
    try {
      new CoreRegex(pattern).free();
      assert.unreachable(`${pattern} compiled`);
    } catch (err) {
      assert.instance(err, RegexSyntaxError, pattern);
      assert.is(err.code, code, `${pattern}: ${err.message}`);
      assert.ok(err.position >= 0 && err.position <= pattern.length, pattern);
    }
  }
  assert.match(checkRegex('(abc'), /missing closing \) at offset 0/);
  assert.is(checkRegex('/ok/[0-9]+'), null);
});

// Patterns that mean the same in JavaScript (on these inputs) and RE2: compare the two engines.
const shared = [
  'a', 'ab|cd', '(ab)*', '[a-c]+d?', 'a.b', '(a|b)*c', '(a+)+b', '(a*)*', '(x+x+)+y', '[^a]*a', 'a{2}b{1,3}',
  '/api/v[0-9]+(/.*)?', '(?:/[a-z]+)+/?', '.*/(users|orders)/[0-9]+', '\\w+@\\w+\\.com', '(a|ab)(c|bcd)(d*)',
  '(.*)(.*)(.*)', 'a(b|c)*d', '[ab][^ab]', '\\d+(\\.\\d+)?',
];
const inputs = ['', 'a', 'b', 'ab', 'abc', 'abcd', 'aab', 'aaab', 'xxy', 'xxxxy', 'cd', 'ad', 'abbcd', 'bab',
  '/api/v1', '/api/v12/x/y', '/users/1/orders/22', 'me@host.com', '1.25', '12', 'ba', 'a.b'];

test('agrees with JavaScript RegExp on patterns both engines read alike', () => {
  for (const p of shared) {
    const js = new RegExp(`^(?:${p})$`);
    const re = new CoreRegex(p);
    for (const s of inputs) assert.is(re.test(s), js.test(s), `${p} on ${JSON.stringify(s)}`);
    re.free();
  }
});

// random patterns from a small grammar over a small alphabet, so that matches are frequent
const atom = fc.oneof(
  fc.constantFrom('a', 'b', '/', '.', '[ab]', '[^a]', '\\d', '1'),
);
const pattern = fc.letrec((tie) => ({
  re: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    atom,
    fc.tuple(tie('re'), tie('re')).map(([x, y]) => x + y),
    fc.tuple(tie('re'), tie('re')).map(([x, y]) => `(?:${x}|${y})`),
    fc.tuple(tie('re'), fc.constantFrom('*', '+', '?', '{2}', '{1,3}', '{0,}')).map(([x, q]) => `(?:${x})${q}`)),
})).re;

test('property: random patterns and inputs agree with JavaScript RegExp', () => {
  fc.assert(fc.property(pattern, fc.array(fc.stringMatching(/^[ab\/1.]{0,12}$/), { minLength: 1, maxLength: 8 }), (p, strs) => {
    const js = new RegExp(`^(?:${p})$`);
    const re = new CoreRegex(p);
    try {
      for (const s of strs) if (re.test(s) !== js.test(s)) return false;
      return true;
    } finally { re.free(); }
  }), { numRuns: 1500 });
});

test('catastrophic-backtracking patterns stay linear: 200 KB inputs through exponential-in-JS patterns', () => {
  // [pattern, an input it matches]
  const evil = [['(a+)+b', 'aaab'], ['(a|a)*b', 'ab'], ['(a|aa)+b', 'aaaab'], ['(x+x+)+y', 'xxxy'],
    ['(.*a){20}b', `${'a'.repeat(25)}b`], ['(a*)*b', 'b'], ['(?:a?){30}a{30}b', `${'a'.repeat(45)}b`]];
  const input = 'a'.repeat(200_000);
  for (const [p, ok] of evil) {
    const re = new CoreRegex(p);
    assert.is(re.test(input), false, p);
    assert.is(re.test(`${input}b`), p === '(a+)+b' || p === '(a|a)*b' || p === '(a|aa)+b' || p === '(a*)*b' || p === '(.*a){20}b', p);
    assert.is(re.test(ok), true, p);
    re.free();
  }
  // the biggest pattern accepted (many positions) over a long input still finishes
  const big = new CoreRegex('(?:[a-z]{1,1000}/){1,5}');
  assert.is(big.test(`${'x'.repeat(900)}/`.repeat(5)), true);
  assert.is(big.test('x'.repeat(20_000)), false);
  big.free();
});

test.run();
