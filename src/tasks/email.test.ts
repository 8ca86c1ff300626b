import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEncodedWords, emailToText, htmlToText, parseEmail, truncate, withoutFooter } from './email.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

const CASES: { name: string; raw: string; subject: string; body: string }[] = [
  {
    name: 'headers are dropped, folded subject unfolded, mbox line skipped',
    raw: 'From someone@example.com  Thu Aug 22 12:36:23 2002\nReceived: from relay\n\tby host\nSubject: Hello\n  world\nTo: x@y\n\nLine one\nline two\n',
    subject: 'Hello world',
    body: 'Line one line two',
  },
  {
    name: 'CRLF line ends and the first of repeated headers',
    raw: 'Subject: first\r\nSubject: second\r\n\r\nbody\r\n',
    subject: 'first',
    body: 'body',
  },
  {
    name: 'multipart/alternative: the text/plain part wins over the HTML one',
    raw: [
      'Subject: alt', 'Content-Type: multipart/alternative; boundary="XX"', '', 'preamble', '--XX',
      'Content-Type: text/html', '', '<p>html version</p>', '--XX', 'Content-Type: text/plain; charset=us-ascii', '',
      'plain version', '--XX--', 'epilogue',
    ].join('\n'),
    subject: 'alt',
    body: 'plain version',
  },
  {
    name: 'HTML only: tags, head, style and comments removed, entities decoded',
    raw: 'Content-Type: text/html\n\n<html><head><title>T</title><style>p {color: red}</style></head><body><!-- hidden --><p>Fish &amp; chips&nbsp;for &#163;5 &#x263A;</p></body></html>',
    subject: '',
    body: 'Fish & chips for £5 ☺',
  },
  {
    name: 'base64 UTF-8 body in a nested multipart; the attachment is skipped',
    raw: [
      'Content-Type: multipart/mixed; boundary=outer', '', '--outer', 'Content-Type: multipart/alternative; boundary=inner', '',
      '--inner', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', b64('Grüße aus Köln'),
      '--inner--', '--outer', 'Content-Type: text/plain', 'Content-Disposition: attachment; filename="a.txt"', '', 'attached text', '--outer--',
    ].join('\n'),
    subject: '',
    body: 'Grüße aus Köln',
  },
  {
    name: 'quoted-printable with soft line breaks in ISO-8859-1',
    raw: 'Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9 au lait, a very lo=\nng line =3D fine',
    subject: '',
    body: 'Café au lait, a very long line = fine',
  },
  {
    name: 'HTML sent as text/plain is read as HTML',
    raw: 'Subject: offer\n\n<html><body><b>BUY</b> now</body></html>',
    subject: 'offer',
    body: 'BUY now',
  },
  {
    name: 'an attached message/rfc822 is read without its headers',
    raw: ['Subject: fwd', 'Content-Type: message/rfc822', '', 'Received: from a by b', 'Subject: inner', '', 'inner body'].join('\n'),
    subject: 'fwd',
    body: 'inner body',
  },
  {
    name: 'a message forwarded inline, headers and all, loses those headers too',
    raw: ['Subject: HELLO', 'Content-Type: text/plain', '', 'Return-Path: <a@b>', 'Received: from x', '  by y', 'Subject: Hello', '', 'the offer'].join('\n'),
    subject: 'HELLO',
    body: 'the offer',
  },
  {
    name: 'a multipart body whose Content-Type header is missing',
    raw: ['Subject: m', '', '--JavaMail.123456', 'Content-Type: text/plain; charset=iso-8859-1', '', 'the text', '--JavaMail.123456--'].join('\n'),
    subject: 'm',
    body: 'the text',
  },
  {
    name: 'no body',
    raw: 'Subject: only a subject\n',
    subject: 'only a subject',
    body: '',
  },
];

for (const c of CASES) {
  test(`parseEmail: ${c.name}`, () => {
    assert.deepEqual(parseEmail(c.raw), { subject: c.subject, body: c.body });
  });
}

test('RFC 2047 subjects: B and Q words, whitespace between adjacent words dropped', () => {
  assert.equal(decodeEncodedWords(`=?utf-8?B?${b64('Grüße')}?= =?ISO-8859-1?Q?_und_K=F6ln?= !`), 'Grüße und Köln !');
  assert.equal(decodeEncodedWords('plain subject'), 'plain subject');
});

test('signatures and mailing-list footers are cut; quoted text stays', () => {
  const body = ['> quoted line', 'my reply', '-- ', 'Jane Doe', 'http://example.org'].join('\n');
  assert.equal(withoutFooter(body), '> quoted line\nmy reply');
  const footer = ['message', '_______________________________________________', 'Foo mailing list', 'Foo@example.org'].join('\n');
  assert.equal(withoutFooter(footer), 'message');
  assert.equal(withoutFooter('text\nhttp://xent.com/mailman/listinfo/fork\n'), 'text');
  const rule = ['table', '______________________________', 'more table'].join('\n'); // a rule, not a footer
  assert.equal(withoutFooter(rule), rule);
});

test('htmlToText leaves unknown entities alone', () => {
  assert.equal(htmlToText('a &bogus; b'), 'a &bogus; b');
});

test('emailToText joins subject and body with a blank line and caps the length at a word boundary', () => {
  assert.equal(emailToText('Subject: Hi\n\nthere', 600), 'Hi\n\nthere');
  assert.equal(emailToText('\nno headers at all', 600), 'no headers at all');
  const long = `Subject: S\n\n${'word '.repeat(200)}`;
  const text = emailToText(long, 100);
  assert.ok(text.length <= 100 && text.length >= 80, `length ${text.length}`);
  assert.match(text, /word$/);
});

test('truncate never splits a surrogate pair', () => {
  const s = 'x'.repeat(9) + '😀'.repeat(3); // the emoji is two UTF-16 units
  assert.equal(truncate(s, 10), 'x'.repeat(9));
  assert.equal(truncate('short', 10), 'short');
});
