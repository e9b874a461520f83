import type { Socket } from 'node:net';

/** Resolves with the ms from now until the socket closes; rejects after `ms`. */
export function closeTime(socket: Socket, ms: number): Promise<number> {
  const start = performance.now();
  if (socket.destroyed) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the socket was still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - start);
    });
  });
}
