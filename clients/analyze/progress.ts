/**
 * Progress on stderr while the experiments run: one line per step, and on a
 * terminal a counter redrawn in place (about ten times a second at most).
 */
export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #started = performance.now();
  #lastDraw = 0;
  #open = false;

  constructor(
    out: NodeJS.WriteStream = process.stderr,
    readonly quiet = false,
  ) {
    this.#out = out;
    this.#tty = Boolean(out.isTTY);
  }

  /** A finished step or a note. */
  log(line: string): void {
    if (this.quiet) return;
    this.#clear();
    this.#out.write(`[${this.#elapsed()}] ${line}\n`);
  }

  /** A counter for the current step: redrawn on a terminal, else silent until the step logs. */
  tick(label: string, done: number, total: number): void {
    if (this.quiet || !this.#tty) return;
    const now = performance.now();
    if (done < total && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const width = 24;
    const filled = Math.round((done / Math.max(1, total)) * width);
    this.#out.write(
      `\r[${this.#elapsed()}] ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`,
    );
    this.#open = true;
  }

  #clear(): void {
    if (this.#open) {
      this.#out.write('\r\x1b[2K');
      this.#open = false;
    }
  }

  #elapsed(): string {
    const s = Math.floor((performance.now() - this.#started) / 1000);
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }
}
