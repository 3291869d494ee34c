/**
 * Replica names the control plane makes up: server-1 … server-N on a fresh
 * start, as the classic contract names them, then server-<k> with k never
 * reused within this control plane's life.
 */
export class ReplicaNames {
  readonly #taken: (name: string) => boolean;
  #counter = 0;

  /** `taken`: whether a replica of that name (compared as hostnames are) exists. */
  constructor(taken: (name: string) => boolean) {
    this.#taken = taken;
  }

  /** The i-th name of a fresh start, unless it is taken. */
  initial(i: number): string {
    const name = `server-${i}`;
    if (this.#taken(name)) return this.next();
    this.note(name);
    return name;
  }

  /** Short, unique, never reused: server-<k>. */
  next(): string {
    let name: string;
    do name = `server-${++this.#counter}`;
    while (this.#taken(name));
    return name;
  }

  /** `named`, then made-up names until there are `count`. */
  fill(named: readonly string[], count: number): string[] {
    const names = [...named];
    while (names.length < count) names.push(this.next());
    return names;
  }

  /** A name in use (adopted, stored): later names count on from it. */
  note(name: string): void {
    const m = /^server-(\d+)$/i.exec(name);
    if (m) this.#counter = Math.max(this.#counter, Number(m[1]));
  }
}
