// Raw RFC 822 / MIME e-mail → subject and readable body text, with every header dropped: routing
// headers name the mailing lists and relays and would give spam away without reading the message.
// Enough MIME for the SpamAssassin corpus: multipart trees, base64 and quoted-printable, charsets,
// RFC 2047 encoded subjects, HTML reduced to its text. Pure: no file system.

export interface EmailText {
  readonly subject: string;
  readonly body: string;
}

interface Entity {
  readonly headers: ReadonlyMap<string, string>; // lower-case name → first value, unfolded
  readonly body: string;
}

interface ContentType {
  readonly type: string; // lower case, e.g. "text/plain"
  readonly params: ReadonlyMap<string, string>; // lower-case name → value
}

/**
 * The decoded subject and body of a raw message, whitespace collapsed. The body is the first
 * non-empty text/plain part, else the first text/html part as text; attachments are skipped.
 *
 * @example
 *   parseEmail('Subject: Hi\n\nHello there')  // { subject: 'Hi', body: 'Hello there' }
 */
export function parseEmail(raw: string): EmailText {
  const message = parseEntity(raw.replace(/\r\n?/g, '\n'));
  const subject = collapse(decodeEncodedWords(message.headers.get('subject') ?? ''));
  const leaves = textLeaves(message, 0);
  const plain = leaves.find((l) => l.type === 'text/plain' && l.text !== '');
  const html = leaves.find((l) => l.type === 'text/html' && l.text !== '');
  return { subject, body: plain?.text ?? html?.text ?? '' };
}

/**
 * Subject, a blank line and the start of the body, cut to at most `maxChars` at a word boundary;
 * empty when both are empty.
 */
export function emailToText(raw: string, maxChars: number): string {
  const { subject, body } = parseEmail(raw);
  const text = subject !== '' && body !== '' ? `${subject}\n\n${body}` : subject + body;
  return truncate(text, maxChars);
}

/** Cuts at the last whitespace within the final fifth, else hard (never inside a surrogate pair). */
export function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let cut = text.slice(0, maxChars);
  const space = cut.search(/\s\S*$/);
  if (space >= maxChars * 0.8) cut = cut.slice(0, space);
  else if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut.trimEnd();
}

function parseEntity(raw: string): Entity {
  const end = raw.startsWith('\n') ? 0 : raw.indexOf('\n\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const body = end < 0 ? '' : raw.slice(end + (end === 0 ? 1 : 2));
  const headers = new Map<string, string>();
  let last: string | undefined;
  for (const line of head.split('\n')) {
    if (/^[ \t]/.test(line)) {
      if (last !== undefined) headers.set(last, `${headers.get(last)} ${line.trim()}`);
      continue;
    }
    const m = /^([!-9;-~]+):[ \t]*(.*)$/.exec(line); // header name: printable ASCII but ':'
    if (!m) continue; // the mbox "From sender date" line
    last = m[1].toLowerCase();
    if (headers.has(last)) last = undefined; // keep the first value; its continuations too
    else headers.set(last, m[2]);
  }
  return { headers, body };
}

function contentType(entity: Entity): ContentType {
  const value = entity.headers.get('content-type') ?? 'text/plain';
  const type = value.split(';')[0].trim().toLowerCase() || 'text/plain';
  const params = new Map<string, string>();
  for (const m of value.matchAll(/;\s*([\w.-]+)\s*=\s*(?:"([^"]*)"|([^;\s]+))/g)) params.set(m[1].toLowerCase(), m[2] ?? m[3]);
  return { type, params };
}

interface TextLeaf {
  readonly type: 'text/plain' | 'text/html';
  readonly text: string;
}

const MAX_DEPTH = 8; // nesting deeper than any real message; a guard against malformed ones

/** The text parts of a MIME tree in document order, decoded and whitespace-collapsed. */
function textLeaves(entity: Entity, depth: number): TextLeaf[] {
  const { type, params } = contentType(entity);
  const boundary = type.startsWith('multipart/') ? params.get('boundary') : undeclaredBoundary(entity.body);
  if (boundary !== undefined && depth < MAX_DEPTH) {
    const parts = multipartBodies(entity.body, boundary);
    if (parts.length > 0) return parts.flatMap((p) => textLeaves(parseEntity(p), depth + 1));
  }
  if (/^attachment\b/i.test(entity.headers.get('content-disposition') ?? '')) return [];
  if (type === 'message/rfc822' && depth < MAX_DEPTH) return textLeaves(parseEntity(entity.body), depth + 1);
  if (type !== 'text/plain' && type !== 'text/html' && !type.startsWith('multipart/')) return [];
  const decoded = decodeBody(entity.body, entity.headers.get('content-transfer-encoding') ?? '', params.get('charset'));
  // A message forwarded inline, headers and all, is read like an attached one.
  if (/^\s*(Return-Path|Received|Delivered-To):/i.test(decoded) && depth < MAX_DEPTH) return textLeaves(parseEntity(decoded.trimStart()), depth + 1);
  // Much spam is HTML sent as text/plain; HTML's text is what a reader sees.
  const isHtml = type === 'text/html' || /<(html|body)\b/i.test(decoded);
  return [{ type: type === 'text/html' ? 'text/html' : 'text/plain', text: collapse(isHtml ? htmlToText(withoutFooter(decoded)) : withoutFooter(decoded)) }];
}

/**
 * Plain text without its signature ("-- " line) and mailing-list footer: footers name the list a
 * message went through, which says ham or spam without reading the message.
 */
export function withoutFooter(text: string): string {
  const lines = text.split('\n');
  const end = lines.findIndex((line, i) => {
    if (/^--\s*$/.test(line) || /DeathToSpam/.test(line) || /^\s*https?:\/\/\S+\/listinfo\/\S*\s*$/.test(line)) return true;
    return /^_{20,}\s*$/.test(line) && /mailing list|listinfo/i.test(lines.slice(i + 1, i + 4).join(' '));
  });
  return end < 0 ? text : lines.slice(0, end).join('\n');
}

/**
 * Some messages in the corpus are multipart without saying so (their Content-Type header is lost):
 * a "--token" line followed by a Content-* header line near the top gives the boundary away.
 * Only near the top, so a MIME sample quoted further down a message stays text.
 */
function undeclaredBoundary(body: string): string | undefined {
  return /^--(\S{6,})[ \t]*\n(?=content-[\w-]+:)/im.exec(body.slice(0, 500))?.[1];
}

/** The parts between "--boundary" lines, up to "--boundary--"; the preamble is dropped. */
function multipartBodies(body: string, boundary: string): string[] {
  const open = `--${boundary}`;
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of body.split('\n')) {
    const t = line.trimEnd();
    if (t === open || t === `${open}--`) {
      if (current) parts.push(current.join('\n'));
      current = t === open ? [] : undefined;
      if (t !== open) break;
    } else current?.push(line);
  }
  if (current) parts.push(current.join('\n')); // unterminated last part
  return parts;
}

function decodeBody(body: string, transferEncoding: string, charset: string | undefined): string {
  const cte = transferEncoding.trim().toLowerCase();
  if (cte === 'base64') return decodeBytes(Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'), charset);
  if (cte === 'quoted-printable') return decodeBytes(quotedPrintableBytes(body.replace(/=[ \t]*\n/g, ''), false), charset);
  return body; // 7bit / 8bit: already characters in the corpus's JSON
}

/** RFC 2045 quoted-printable (soft breaks already removed); RFC 2047 "Q" also maps '_' to space. */
function quotedPrintableBytes(text: string, underscoreIsSpace: boolean): Uint8Array {
  let latin1 = text.replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  if (underscoreIsSpace) latin1 = latin1.replace(/_/g, ' ');
  if (!/[^\x00-\xff]/.test(latin1)) return Buffer.from(latin1, 'latin1');
  // Characters past U+00FF were never QP-encoded bytes; keep them as UTF-8.
  return Buffer.concat(latin1.split(/([^\x00-\xff]+)/).map((piece, i) => Buffer.from(piece, i % 2 === 1 ? 'utf8' : 'latin1')));
}

// Labels seen in the corpus that the WHATWG Encoding Standard (TextDecoder) does not know.
const CHARSET_ALIASES: Readonly<Record<string, string>> = { chinesebig5: 'big5', 'us-ascii': 'windows-1252', '': 'windows-1252' };

/** Bytes in a declared charset; an unknown or absent one reads as windows-1252 (ASCII's superset). */
function decodeBytes(bytes: Uint8Array, charset: string | undefined): string {
  const label = (charset ?? '').trim().toLowerCase();
  try {
    return new TextDecoder(CHARSET_ALIASES[label] ?? label).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

/** RFC 2047 "=?charset?B|Q?text?=" words; whitespace between two encoded words is dropped. */
export function decodeEncodedWords(value: string): string {
  return value
    .replace(/(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)\s+(?==\?[^?\s]+\?[BbQq]\?)/g, '$1')
    .replace(/=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g, (_, charset: string, enc: string, text: string) => {
      const bytes = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : quotedPrintableBytes(text, true);
      return decodeBytes(bytes, charset.split('*')[0]); // RFC 2231 language suffix "charset*lang"
    });
}

const ENTITIES: Readonly<Record<string, string>> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', copy: '©', reg: '®', trade: '™',
  middot: '·', bull: '•', hellip: '…', mdash: '—', ndash: '–', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”',
  pound: '£', euro: '€', cent: '¢', yen: '¥', deg: '°', times: '×',
};

/** HTML → its visible text: no head, scripts, styles, comments or tags; entities decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(head|script|style|title)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#\d+|#[xX][0-9A-Fa-f]+|[A-Za-z]+);?/g, (whole, name: string) => {
      if (name[0] !== '#') return ENTITIES[name.toLowerCase()] ?? whole;
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
    });
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
