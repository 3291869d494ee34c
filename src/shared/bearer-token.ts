import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { RinglbError } from './errors.js';

/** Shortest token accepted from a file: guessing 16 random characters is out of reach. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * A shared secret that authorises mutations (gRPC `authorization: Bearer …`
 * metadata, HTTP `Authorization: Bearer …`). The secret never leaves this
 * object in a printable form: toString/toJSON/inspect say "[redacted]", so a
 * config object or log line carrying it cannot leak it.
 */
export class BearerToken {
  readonly #secret: string;
  readonly #digest: Buffer;
  /** Where it came from, for messages. */
  readonly source: string;

  constructor(secret: string, source = 'token') {
    if (secret.length < MIN_TOKEN_LENGTH || /\s/.test(secret))
      throw RinglbError.invalidArgument(
        `${source}: a token must be at least ${MIN_TOKEN_LENGTH} characters without spaces`,
      );
    this.#secret = secret;
    this.#digest = digest(secret);
    this.source = source;
  }

  /** Reads a token file (surrounding whitespace and a final newline are ignored). */
  static fromFile(file: string): BearerToken {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw RinglbError.invalidArgument(
        `cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
    return new BearerToken(text.trim(), file);
  }

  /** A fresh random token written to `file` (mode 0600) unless the file exists; then reads it. */
  static fromFileOrCreate(file: string): { token: BearerToken; created: boolean } {
    let created = false;
    try {
      statSync(file);
    } catch {
      writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
      created = true;
    }
    return { token: BearerToken.fromFile(file), created };
  }

  /** The `authorization` header / metadata value. */
  header(): string {
    return `Bearer ${this.#secret}`;
  }

  /**
   * Whether an `authorization` value carries this token. Compared as SHA-256
   * digests with timingSafeEqual: equal lengths whatever was sent, and no
   * early exit that would time how much of a guess was right.
   */
  matches(authorization: string | undefined): boolean {
    const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    return timingSafeEqual(digest(m?.[1] ?? ''), this.#digest) && m !== null;
  }

  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'BearerToken([redacted])';
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
