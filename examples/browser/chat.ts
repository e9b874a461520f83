// The chat's messages, shared by the server (server.ts, Node.js) and the page (page.ts, the browser).

/** The server's node id: pages send to it. */
export const SERVER_ID = 'chat-server';

/** Longest line the server relays, in characters. */
export const MAX_TEXT = 500;

/** What a page sends: a line of chat. */
export interface Say {
  readonly type: 'say';
  readonly text: string;
}

/** What the server sends to every page. */
export type ServerMessage =
  | { readonly type: 'welcome'; readonly members: readonly string[] }
  | { readonly type: 'said'; readonly from: string; readonly text: string }
  | { readonly type: 'joined'; readonly nodeId: string }
  | { readonly type: 'left'; readonly nodeId: string; readonly reason: string };

export type ChatMessage = Say | ServerMessage;

/** Is this a line a page may send? The server relays nothing else. */
export function isSay(message: unknown): message is Say {
  const candidate = message as Partial<Say> | null;
  return typeof candidate === 'object' && candidate !== null && candidate.type === 'say' && typeof candidate.text === 'string';
}
