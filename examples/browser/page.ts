// The page: a msgpacknet node in the browser. `import { Node } from 'msgpacknet'` resolves, through the
// package's `browser` export condition, to the browser build, whose transport is the browser's own
// WebSocket. The server (server.ts) bundles this file with esbuild; any bundler does the same.
import { Node, randomNodeId, type LinkEvent } from 'msgpacknet';
import { MAX_TEXT, SERVER_ID, type ChatMessage, type ServerMessage } from './chat.js';

const status = document.getElementById('status') as HTMLParagraphElement;
const messages = document.getElementById('messages') as HTMLUListElement;
const members = document.getElementById('members') as HTMLUListElement;
const form = document.getElementById('say') as HTMLFormElement;
const input = document.getElementById('text') as HTMLInputElement;
const send = document.getElementById('send') as HTMLButtonElement;

const address = document.querySelector('meta[name="msgpacknet-address"]')!.getAttribute('content')!;
const node = new Node<ChatMessage, string>({ nodeId: `page-${randomNodeId().slice(0, 8)}` });
const here = new Set<string>();

function show(from: string | undefined, text: string): void {
  const item = document.createElement('li');
  if (from === undefined) item.className = 'notice';
  else {
    if (from === node.nodeId) item.className = 'mine';
    const name = document.createElement('span');
    name.className = 'from';
    name.textContent = `${from}:`;
    item.append(name);
  }
  item.append(text);
  messages.append(item);
  messages.scrollTop = messages.scrollHeight;
}

function showMembers(): void {
  members.replaceChildren(
    ...[...here].sort().map((id) => {
      const item = document.createElement('li');
      item.textContent = id === node.nodeId ? `${id} (you)` : id;
      return item;
    }),
  );
}

function setStatus(text: string, state: 'connecting' | 'connected' | 'disconnected'): void {
  status.textContent = text;
  status.className = state;
  input.disabled = send.disabled = state !== 'connected';
}

function onServerMessage(message: ServerMessage): void {
  switch (message.type) {
    case 'welcome':
      here.clear();
      for (const id of message.members) here.add(id);
      break;
    case 'said':
      show(message.from, message.text);
      break;
    case 'joined':
      here.add(message.nodeId);
      show(undefined, `${message.nodeId} joined`);
      break;
    case 'left':
      here.delete(message.nodeId);
      show(undefined, `${message.nodeId} left (${message.reason})`);
      break;
  }
  showMembers();
}

node.events$.subscribe((event) => {
  if (event.type === 'message' && event.from === SERVER_ID && event.message.type !== 'say') onServerMessage(event.message);
});

// One connection to the server, reopened after every loss with backoff, as long as the page is open.
node.link(address, { maxDelay: 5000 }).subscribe((event: LinkEvent<string>) => {
  if (event.state === 'connecting') setStatus(`connecting to ${address} (attempt ${event.attempt})...`, 'connecting');
  else if (event.state === 'connected') setStatus(`connected as ${node.nodeId} to ${address}`, 'connected');
  else
    setStatus(`disconnected (${event.error?.code ?? event.reason}); retrying in ${Math.round(event.retryIn / 100) / 10} s`, 'disconnected');
});

form.addEventListener('submit', (submit) => {
  submit.preventDefault();
  const text = input.value.trim().slice(0, MAX_TEXT);
  if (text === '' || !node.isConnected(SERVER_ID)) return;
  node.send(SERVER_ID, { type: 'say', text });
  input.value = '';
  input.focus();
});

// Leaving the page closes the connection in order: the server sees `remote-closed`.
addEventListener('pagehide', () => void node.close());
