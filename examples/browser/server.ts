// A chat in the browser, served by a msgpacknet node. One command (in a clone of this repository):
//
//   npm run example:browser
//
// then open the printed http:// address in one or more browser tabs. Each page is a msgpacknet node
// (page.ts) that connects to this node over ws:// and chats through it; lines typed here go to every
// page as `server`. Ctrl-C stops. PORT (default 8080) and WS_PORT (default: any free port) set the
// ports, HOST (default 127.0.0.1) the interface.
import { readFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { Node } from 'msgpacknet';
import { MAX_TEXT, SERVER_ID, isSay, type ChatMessage, type ServerMessage } from './chat.js';

const host = process.env['HOST'] ?? '127.0.0.1';
const httpPort = Number(process.env['PORT'] ?? 8080);
const wsPort = Number(process.env['WS_PORT'] ?? 0);
// Run from the repository's root (npm does): the page's sources are here.
const dir = resolve('examples/browser');

// The page, bundled as a browser app is: 'msgpacknet' resolves through the `browser` export condition.
const bundle = await build({
  entryPoints: [resolve(dir, 'page.ts')],
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  sourcemap: 'inline',
  write: false,
  logLevel: 'warning',
});
const pageScript = bundle.outputFiles[0]!.text;

// The chat node: every page connects to it; it relays each line to every page.
const chat = new Node<ChatMessage, string>({ nodeId: SERVER_ID, maxValueBytes: 64 * 1024 });
const wsAddress = await chat.listen(`ws://${host}:${wsPort}/chat`);
const members = new Set<string>();
/** Sends to every page (but `except`). */
const broadcast = (message: ServerMessage, except?: string): void => {
  for (const id of members) if (id !== except && chat.isConnected(id)) chat.send(id, message);
};

chat.events$.subscribe((event) => {
  switch (event.type) {
    case 'connectionRequest':
      event.request.accept();
      break;
    case 'connected':
      members.add(event.nodeId);
      console.log(`${event.nodeId} joined`);
      chat.send(event.nodeId, { type: 'welcome', members: [SERVER_ID, ...members] });
      broadcast({ type: 'joined', nodeId: event.nodeId }, event.nodeId);
      break;
    case 'disconnected':
      members.delete(event.nodeId);
      console.log(`${event.nodeId} left (${event.reason})`);
      broadcast({ type: 'left', nodeId: event.nodeId, reason: event.reason });
      break;
    case 'message':
      if (!isSay(event.message)) break;
      console.log(`${event.from}: ${event.message.text}`);
      broadcast({ type: 'said', from: event.from, text: event.message.text.slice(0, MAX_TEXT) });
      break;
  }
});

// The page and its script, over HTTP.
const html = (await readFile(resolve(dir, 'index.html'), 'utf8')).replace('%MSGPACKNET_ADDRESS%', wsAddress);
const reply = (response: ServerResponse, status: number, type: string, body: string): void => {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
};
const web = createServer((request, response) => {
  const path = (request.url ?? '/').split('?')[0];
  if (path === '/' || path === '/index.html') reply(response, 200, 'text/html; charset=utf-8', html);
  else if (path === '/page.js') reply(response, 200, 'text/javascript; charset=utf-8', pageScript);
  else reply(response, 404, 'text/plain', 'not found');
});
await new Promise<void>((listening) => web.listen(httpPort, host, listening));
const { port } = web.address() as { port: number };
console.log(`open http://${host}:${port}/ in a browser (the chat node listens on ${wsAddress})`);

// Lines typed here go to every page, from `server`.
createInterface({ input: process.stdin }).on('line', (line) => {
  const text = line.trim().slice(0, MAX_TEXT);
  if (text !== '') broadcast({ type: 'said', from: 'server', text });
});

const stop = (): void => {
  web.close();
  web.closeAllConnections();
  void chat.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
