import crypto from 'node:crypto';
import net from 'node:net';

/**
 * Raw HTTP and WebSocket bytes for tests that must send what no well-behaved client sends
 * (malformed targets, lying Content-Length, reserved WebSocket opcodes).
 */

export interface RawAnswer {
  /** The status code of the first response line; 0 when the server closed without answering. */
  status: number;
  /** Everything the server sent. */
  text: string;
}

/** Writes `bytes` on a fresh connection and collects what comes back until the server closes (or `timeoutMs`). */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    const done = (): void => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? done() : reject(error)));
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(bytes.toString().slice(0, 80))}`));
    });
  });
}

/** One WebSocket frame as a client would send it (masked unless `masked` is false). */
export function wsFrame(opcode: number, payload: Buffer, options: { fin?: boolean; masked?: boolean; rsv?: number } = {}): Buffer {
  const fin = options.fin ?? true;
  const masked = options.masked ?? true;
  const first = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | (opcode & 0x0f);
  const header: number[] = [first];
  const maskBit = masked ? 0x80 : 0;
  if (payload.length < 126) header.push(maskBit | payload.length);
  else if (payload.length < 65536) header.push(maskBit | 126, payload.length >> 8, payload.length & 0xff);
  else {
    header.push(maskBit | 127);
    const length = Buffer.alloc(8);
    length.writeBigUInt64BE(BigInt(payload.length));
    header.push(...length);
  }
  if (!masked) return Buffer.concat([Buffer.from(header), payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload.map((byte, index) => byte ^ key[index % 4]!));
  return Buffer.concat([Buffer.from(header), key, body]);
}

/**
 * Opens the event socket by hand (token in the query), sends `frames`, and resolves once the
 * server closes the connection or `graceMs` after the frames went out, with whether it closed.
 * The upgrade itself may take up to `upgradeTimeoutMs` (a loaded machine).
 */
export function sendWsFrames(port: number, token: string, frames: Buffer[], graceMs = 2000, upgradeTimeoutMs = 10_000): Promise<{ upgraded: boolean; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString('base64');
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        [
          `GET /api/events?token=${token} HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${key}`,
          'Sec-WebSocket-Version: 13',
          '',
          '',
        ].join('\r\n'),
      );
    });
    let upgraded = false;
    let buffered = '';
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!closed) socket.destroy();
      resolve({ upgraded, closed });
    };
    let timer = setTimeout(() => finish(false), upgradeTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (upgraded) return;
      buffered += chunk.toString('latin1');
      if (!buffered.includes('\r\n\r\n')) return;
      upgraded = buffered.startsWith('HTTP/1.1 101');
      if (!upgraded) return;
      for (const frame of frames) socket.write(frame);
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), graceMs);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
  });
}
