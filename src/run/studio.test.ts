// The studio's server answers every request and never exits because of one: NUL bytes, malformed
// percent-encoding, paths that climb out of the served folder, huge paths and odd methods each get
// an HTTP status, and a normal request still answers after them. No browser here (web/studio.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startStudio } from './studio.js';

/** Sends one raw request line (so the path reaches the server exactly as written). */
function send(port: number, method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

test('bad requests get 400, 404, 405 or 431, and the server keeps answering', async () => {
  const studio = await startStudio({ port: 0, host: '127.0.0.1' });
  const port = Number(new URL(studio.url).port);
  try {
    const cases: [method: string, path: string, status: number[]][] = [
      ['GET', '/%00', [400]],
      ['GET', '/app.js%00', [400]],
      ['GET', '/app.js%00.html', [400]],
      ['GET', '/%E0%A4%A', [400]], // malformed percent-encoding
      ['GET', '/%', [400]],
      ['GET', '/..%2f..%2fetc%2fpasswd', [404]],
      ['GET', '/%2e%2e/%2e%2e/etc/passwd', [404]],
      ['GET', '/tfjs-wasm/..%2f..%2f..%2fpackage.json', [404]],
      ['GET', '/models/x/%2e%2e%2fpackage.json', [404]],
      ['GET', '/api/tasks/%00', [400]],
      ['GET', `/${'a'.repeat(10_000)}`, [404]], // long, under Node's header limit: ENAMETOOLONG
      ['GET', `/${'a/'.repeat(20_000)}`, [431, 400]], // past Node's 16 KB header limit
      ['GET', '/does-not-exist.js', [404]],
      ['GET', '/tfjs-wasm', [404]], // a folder
      ['POST', '/', [405]],
      ['PUT', '/app.js', [405]],
      ['DELETE', '/%00', [405]],
      ['OPTIONS', '*', [405]],
      ['PROPFIND', '/', [405]],
    ];
    for (const [method, path, status] of cases) {
      const got = await send(port, method, path);
      assert.ok(status.includes(got), `${method} ${path.slice(0, 40)}: ${got}, expected ${status.join(' or ')}`);
    }
    assert.equal(await send(port, 'HEAD', '/app.js'), 200);
    assert.equal(await send(port, 'GET', '/'), 200, 'still answering');
    assert.equal(await send(port, 'GET', '/api/studio'), 200);
  } finally {
    await studio.close();
  }
});
