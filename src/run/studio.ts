// The server of `lorapro studio` and `bench browser`: the playground page (dist/studio) on a small
// local static server. It serves the page, its worker and the wasm backend's .wasm files, one model
// folder's files, and the built-in tasks' splits as JSON; the training itself happens in the
// browser. Nothing is fetched from elsewhere.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { basename, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinTaskNames, loadBuiltinTask, BUILTIN_SOURCES } from '../tasks/builtin.js';
import { METHODS } from '../train/methods.js';
import { UsageError } from '../train/errors.js';
import { requireModelDir } from '../train/run-model.js';

/** The bundled page (scripts/build-web.mjs writes it). */
export const WEB_DIR = fileURLToPath(new URL('../studio/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.md': 'text/markdown; charset=utf-8',
};

/** Files of a model folder the page may load (the weights, configs and tokenizer, nothing else). */
const MODEL_FILE = /^(config\.json|lorapro\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|chat_template\.jinja|generation_config\.json|model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json)$/;

export interface StudioOptions {
  /** Model folder offered as the page's ready-made choice; without one the page takes dropped folders only. */
  readonly model?: string;
  readonly port: number;
  readonly host: string;
}

export interface Studio {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Starts the playground server; resolves once it listens. A port in use is a UsageError naming it.
 *
 * @example
 *   const studio = await startStudio({ model: 'models/lorapro-base', port: 0, host: '127.0.0.1' });
 *   console.log(studio.url);
 */
export async function startStudio(o: StudioOptions): Promise<Studio> {
  if (!existsSync(join(WEB_DIR, 'index.html'))) throw new UsageError(`the playground is not built (${join(WEB_DIR, 'index.html')} is missing); run npm run build`);
  if (o.model !== undefined) requireModelDir(o.model);
  const modelDir = o.model === undefined ? undefined : resolve(o.model);
  const modelName = modelDir === undefined ? '' : basename(modelDir);
  const modelFiles = modelDir === undefined ? [] : readdirSync(modelDir).filter((f) => MODEL_FILE.test(f));
  const studioJson = JSON.stringify({
    model: modelDir === undefined ? null : { name: modelName, files: modelFiles },
    tasks: BUILTIN_SOURCES.map((s) => ({ name: s.name, description: s.description })),
    methods: METHODS,
    defaultMethods: ['full', 'lora', 'lora-pro'],
  });

  const answer = (method: string | undefined, url: string | undefined): Reply => {
    if (method !== 'GET' && method !== 'HEAD') return { status: 405, body: 'only GET and HEAD' };
    const path = decodedPath(url);
    if (path === undefined) return { status: 400, body: 'bad URL' };
    if (path === '/api/studio') return { status: 200, body: studioJson, type: TYPES['.json'] };
    const task = /^\/api\/tasks\/([\w-]+)$/.exec(path);
    if (task) {
      if (!builtinTaskNames().includes(task[1])) return { status: 404, body: `unknown built-in task "${task[1]}"; the built-in tasks are: ${builtinTaskNames().join(', ')}` };
      const t = loadBuiltinTask(task[1]);
      return { status: 200, body: JSON.stringify({ name: t.name, labels: t.labels, train: t.train, validation: t.validation }), type: TYPES['.json'] };
    }
    const model = modelDir === undefined ? null : new RegExp(`^/models/${escapeRegExp(modelName)}/([^/]+)$`).exec(path);
    if (model && modelDir !== undefined) {
      if (!modelFiles.includes(model[1])) return { status: 404, body: `${model[1]} is not a file of ${modelName}` };
      return fileReply(modelDir, model[1], path);
    }
    const rel = path === '/' ? 'index.html' : path.slice(1);
    if (rel.split('/').some((p) => p === '..' || p === '' || p.startsWith('.'))) return { status: 404, body: 'not found' };
    return fileReply(WEB_DIR, rel, path);
  };

  // Nothing a request holds may stop the server: whatever the handler throws becomes a 500.
  const server = createServer((req, res) => {
    let reply: Reply;
    try {
      reply = answer(req.method, req.url);
    } catch (e) {
      reply = { status: 500, body: `internal error: ${(e as Error).message}` };
    }
    res.writeHead(reply.status, { 'content-type': reply.type ?? 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...(reply.status === 405 ? { allow: 'GET, HEAD' } : {}) });
    res.end(reply.body);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => fail(e.code === 'EADDRINUSE' ? new UsageError(`port ${o.port} on ${o.host} is in use; pass --port with another (0 picks a free one)`) : e));
    server.listen(o.port, o.host, () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  return { url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}/`, server, close: () => new Promise((ok) => server.close(() => ok())) };
}

interface Reply {
  readonly status: number;
  readonly body: string | Buffer;
  readonly type?: string;
}

/** The request's path, percent-decoded; undefined for a malformed URL or one holding a NUL byte. */
function decodedPath(url: string | undefined): string | undefined {
  try {
    const path = decodeURIComponent(new URL(url ?? '/', 'http://localhost').pathname);
    return path.includes('\0') ? undefined : path;
  } catch {
    return undefined;
  }
}

/** The file `rel` under `root` (never outside it), or 404 when it is not a readable file. */
function fileReply(root: string, rel: string, path: string): Reply {
  const base = resolve(root);
  const file = resolve(base, rel);
  if (!file.startsWith(base + sep)) return { status: 404, body: `not found: ${path}` };
  try {
    if (!statSync(file).isFile()) return { status: 404, body: `not found: ${path}` };
    return { status: 200, body: readFileSync(file), type: TYPES[extname(file)] ?? 'application/octet-stream' };
  } catch {
    return { status: 404, body: `not found: ${path}` }; // ENOENT, ENAMETOOLONG, EACCES, ...
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
