import { RinglbError } from '../shared/errors.js';

/**
 * A user-supplied integer formula such as `i + 2*i^2 + 17`, compiled once.
 *
 * Grammar (nothing else is accepted, and nothing is ever eval'd):
 *   expr  := term (('+' | '-') term)*
 *   term  := unary (('*' | '/' | '%') unary | <implicit ×> power)*
 *   unary := ('+' | '-') unary | power
 *   power := atom (('**' | '^') unary)?          right-associative
 *   atom  := integer | variable | '(' expr ')'
 * Implicit multiplication covers the textbook `2i^2` and `(i+1)(i+2)`.
 * `/` divides and truncates, `%` is the non-negative remainder; both give 0
 * for a zero divisor.
 */
export interface Expression {
  readonly source: string;
  /** The variables it uses. */
  readonly variables: ReadonlySet<string>;
  /**
   * True when built only from + − × and powers with a small constant
   * exponent. Then f(i) ≡ f(i mod M) (mod M), and `mod` is exact for any i.
   */
  readonly polynomial: boolean;
  /** Floating-point value: exact while intermediates stay below 2^53. */
  evaluate(i: number, j: number): number;
  /** f(i, j) mod m computed in modular arithmetic (polynomials only, m ≤ 2^24). */
  mod(i: number, j: number, m: number): number;
}

const MAX_LENGTH = 256;
const MAX_DEPTH = 32;
const MAX_POLY_EXPONENT = 64;

type Node =
  | { kind: 'num'; value: number }
  | { kind: 'var'; name: string }
  | { kind: 'neg'; arg: Node }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/' | '%' | '^'; left: Node; right: Node };

type Token = { text: string; at: number };

function tokenize(source: string, fail: (why: string) => never): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\d+)|([A-Za-z_]\w*)|(\*\*|[-+*/%^()])|(\S))/y;
  let match: RegExpExecArray | null;
  while (re.lastIndex < source.length && (match = re.exec(source))) {
    const at = match.index + match[0].length - (match[1] ?? match[2] ?? match[3] ?? match[4] ?? '').length;
    if (match[4] !== undefined) fail(`unexpected character '${match[4]}' at position ${at + 1}`);
    tokens.push({ text: match[1] ?? match[2] ?? (match[3] === '**' ? '^' : match[3]!), at });
  }
  return tokens;
}

/**
 * Parses `source`, allowing only the named variables. Errors are
 * INVALID_ARGUMENT naming the ring option the expression came from.
 */
export function parseExpression(source: string, variables: readonly string[], option: string): Expression {
  const fail = (why: string): never => {
    throw RinglbError.invalidArgument(`ring option '${option}' is not a valid expression: ${why}`);
  };
  const text = source.trim();
  if (text === '') fail('it is empty');
  if (text.length > MAX_LENGTH) fail(`it is longer than ${MAX_LENGTH} characters`);
  const tokens = tokenize(text, fail);
  let pos = 0;
  let depth = 0;
  const used = new Set<string>();
  const peek = (): string | undefined => tokens[pos]?.text;
  const where = (): string =>
    pos < tokens.length ? `'${tokens[pos]!.text}' at position ${tokens[pos]!.at + 1}` : 'the end';

  const expr = (): Node => {
    if (++depth > MAX_DEPTH) fail(`it nests deeper than ${MAX_DEPTH} levels`);
    let node = term();
    while (peek() === '+' || peek() === '-') {
      const op = tokens[pos++]!.text as '+' | '-';
      node = { kind: 'bin', op, left: node, right: term() };
    }
    depth--;
    return node;
  };
  const term = (): Node => {
    let node = unary();
    for (;;) {
      const t = peek();
      if (t === '*' || t === '/' || t === '%') {
        pos++;
        node = { kind: 'bin', op: t, left: node, right: unary() };
      } else if (t !== undefined && (t === '(' || /^\w/.test(t))) {
        node = { kind: 'bin', op: '*', left: node, right: power() };
      } else {
        return node;
      }
    }
  };
  const unary = (): Node => {
    if (peek() === '-' || peek() === '+') {
      const negative = tokens[pos++]!.text === '-';
      if (++depth > MAX_DEPTH) fail(`it nests deeper than ${MAX_DEPTH} levels`);
      const arg = unary();
      depth--;
      return negative ? { kind: 'neg', arg } : arg;
    }
    return power();
  };
  const power = (): Node => {
    const base = atom();
    if (peek() !== '^') return base;
    pos++;
    if (++depth > MAX_DEPTH) fail(`it nests deeper than ${MAX_DEPTH} levels`);
    const exponent = unary();
    depth--;
    return { kind: 'bin', op: '^', left: base, right: exponent };
  };
  const atom = (): Node => {
    const t = peek();
    if (t === undefined) return fail('it ends too early');
    if (t === '(') {
      pos++;
      const inner = expr();
      if (peek() !== ')') fail(`expected ')' but found ${where()}`);
      pos++;
      return inner;
    }
    if (/^\d+$/.test(t)) {
      const value = Number(t);
      if (!Number.isSafeInteger(value)) fail(`the number ${t} is too large`);
      pos++;
      return { kind: 'num', value };
    }
    if (/^\w/.test(t)) {
      if (!variables.includes(t)) fail(`unknown name '${t}' (allowed: ${variables.join(', ')})`);
      used.add(t);
      pos++;
      return { kind: 'var', name: t };
    }
    return fail(`unexpected ${where()}`);
  };

  const root = expr();
  if (pos < tokens.length) fail(`unexpected ${where()}`);
  const polynomial = isPolynomial(root);
  const evaluate = compileFloat(root);
  const modular = polynomial ? compileModular(root) : undefined;
  return Object.freeze({
    source: text,
    variables: used,
    polynomial,
    evaluate,
    mod(i: number, j: number, m: number): number {
      if (!modular) throw new Error('not a polynomial');
      return modular(i % m, j % m, m);
    },
  });
}

function constantValue(node: Node): number | undefined {
  switch (node.kind) {
    case 'num':
      return node.value;
    case 'var':
      return undefined;
    default: {
      const f = compileFloat(node);
      return isConstant(node) ? f(0, 0) : undefined;
    }
  }
}

function isConstant(node: Node): boolean {
  if (node.kind === 'var') return false;
  if (node.kind === 'num') return true;
  if (node.kind === 'neg') return isConstant(node.arg);
  return isConstant(node.left) && isConstant(node.right);
}

function isPolynomial(node: Node): boolean {
  switch (node.kind) {
    case 'num':
    case 'var':
      return true;
    case 'neg':
      return isPolynomial(node.arg);
    case 'bin':
      if (node.op === '/' || node.op === '%') return false;
      if (node.op === '^') {
        const e = constantValue(node.right);
        return e !== undefined && Number.isInteger(e) && e >= 0 && e <= MAX_POLY_EXPONENT && isPolynomial(node.left);
      }
      return isPolynomial(node.left) && isPolynomial(node.right);
  }
}

type Fn = (i: number, j: number) => number;

function compileFloat(node: Node): Fn {
  switch (node.kind) {
    case 'num': {
      const v = node.value;
      return () => v;
    }
    case 'var':
      return node.name === 'i' ? (i) => i : (_i, j) => j;
    case 'neg': {
      const a = compileFloat(node.arg);
      return (i, j) => -a(i, j);
    }
    case 'bin': {
      const a = compileFloat(node.left);
      const b = compileFloat(node.right);
      switch (node.op) {
        case '+':
          return (i, j) => a(i, j) + b(i, j);
        case '-':
          return (i, j) => a(i, j) - b(i, j);
        case '*':
          return (i, j) => a(i, j) * b(i, j);
        case '^':
          return (i, j) => a(i, j) ** b(i, j);
        case '/':
          return (i, j) => {
            const d = b(i, j);
            return d === 0 ? 0 : Math.trunc(a(i, j) / d);
          };
        case '%':
          return (i, j) => {
            const d = Math.abs(b(i, j));
            if (d === 0) return 0;
            const r = a(i, j) % d;
            return r < 0 ? r + d : r;
          };
      }
    }
  }
}

/** Modular twin of compileFloat: operands stay in [0, m), so products < 2^48 are exact. */
function compileModular(node: Node): (i: number, j: number, m: number) => number {
  switch (node.kind) {
    case 'num': {
      const v = node.value;
      return (_i, _j, m) => v % m;
    }
    case 'var':
      return node.name === 'i' ? (i) => i : (_i, j) => j;
    case 'neg': {
      const a = compileModular(node.arg);
      return (i, j, m) => (m - a(i, j, m)) % m;
    }
    case 'bin': {
      const a = compileModular(node.left);
      if (node.op === '^') {
        const exponent = constantValue(node.right)!;
        return (i, j, m) => powMod(a(i, j, m), exponent, m);
      }
      const b = compileModular(node.right);
      switch (node.op) {
        case '+':
          return (i, j, m) => (a(i, j, m) + b(i, j, m)) % m;
        case '-':
          return (i, j, m) => (a(i, j, m) - b(i, j, m) + m) % m;
        default:
          return (i, j, m) => (a(i, j, m) * b(i, j, m)) % m;
      }
    }
  }
}

function powMod(base: number, exponent: number, m: number): number {
  let result = 1 % m;
  let b = base;
  for (let e = exponent; e > 0; e >>= 1) {
    if (e & 1) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}
