// Symbolic dimensions: integer polynomials over named symbols (ONNX
// dim_params, data-dependent sizes) with floor/ceil division, modulo, max and
// min as opaque atoms — enough for the shape arithmetic models do (Conv
// output sizes, Reshape products, Concat sums) — plus a unifier that merges
// symbols found equal across ops (ORT's symbolic_shape_infer does the same
// with sympy). Expressions are immutable and printed canonically, so equal
// expressions print equally and `key` can be used for equality.

export class SymbolicError extends Error {
  override name = 'SymbolicError';
}

type AtomOp = 'floordiv' | 'ceildiv' | 'mod' | 'max' | 'min';

type Atom =
  | { kind: 'sym'; name: string }
  | { kind: AtomOp; a: SymExpr; b: SymExpr };

interface Term {
  coef: number;
  /** Sorted by key; repeated atoms are powers. */
  atoms: Atom[];
}

function atomKey(a: Atom): string {
  return a.kind === 'sym' ? a.name : `${a.kind}(${a.a.key}, ${a.b.key})`;
}

function monomialKey(atoms: readonly Atom[]): string {
  return atoms.map(atomKey).join('*');
}

export class SymExpr {
  /** Canonical text: equal expressions have equal keys. */
  readonly key: string;

  private constructor(private readonly terms: ReadonlyMap<string, Term>) {
    this.key = SymExpr.print(terms);
  }

  static constant(n: number): SymExpr {
    if (!Number.isSafeInteger(n)) throw new SymbolicError(`dimension ${n} is not an integer`);
    return SymExpr.of([{ coef: n, atoms: [] }]);
  }

  static symbol(name: string): SymExpr {
    return SymExpr.of([{ coef: 1, atoms: [{ kind: 'sym', name }] }]);
  }

  private static atom(a: Atom): SymExpr {
    return SymExpr.of([{ coef: 1, atoms: [a] }]);
  }

  private static of(terms: readonly Term[]): SymExpr {
    const m = new Map<string, Term>();
    for (const t of terms) {
      const atoms = [...t.atoms].sort((x, y) => (atomKey(x) < atomKey(y) ? -1 : atomKey(x) > atomKey(y) ? 1 : 0));
      const k = monomialKey(atoms);
      const coef = (m.get(k)?.coef ?? 0) + t.coef;
      if (coef === 0) m.delete(k);
      else m.set(k, { coef, atoms });
    }
    return new SymExpr(m);
  }

  private static print(terms: ReadonlyMap<string, Term>): string {
    if (terms.size === 0) return '0';
    const sorted = [...terms.entries()].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : a > b ? 1 : 0));
    return sorted.map(([k, t], i) => {
      const mag = Math.abs(t.coef);
      const body = k === '' ? String(mag) : mag === 1 ? k : `${mag}*${k}`;
      return i === 0 ? (t.coef < 0 ? `-${body}` : body) : `${t.coef < 0 ? ' - ' : ' + '}${body}`;
    }).join('');
  }

  /** The value when the expression is a constant, else null. */
  get value(): number | null {
    if (this.terms.size === 0) return 0;
    const c = this.terms.get('');
    return this.terms.size === 1 && c ? c.coef : null;
  }

  isConstant(): boolean {
    return this.value !== null;
  }

  /** The symbol's name when the expression is exactly one plain symbol. */
  get symbolName(): string | null {
    if (this.terms.size !== 1) return null;
    const [t] = this.terms.values();
    const a = t.atoms[0];
    return t.coef === 1 && t.atoms.length === 1 && a.kind === 'sym' ? a.name : null;
  }

  equals(o: SymExpr): boolean {
    return this.key === o.key;
  }

  toString(): string {
    return this.key;
  }

  add(o: SymExpr | number): SymExpr {
    return SymExpr.of([...this.terms.values(), ...toExpr(o).terms.values()]);
  }

  sub(o: SymExpr | number): SymExpr {
    return this.add(toExpr(o).mul(-1));
  }

  mul(o: SymExpr | number): SymExpr {
    const out: Term[] = [];
    for (const a of this.terms.values()) for (const b of toExpr(o).terms.values()) out.push({ coef: a.coef * b.coef, atoms: [...a.atoms, ...b.atoms] });
    return SymExpr.of(out);
  }

  /** floor(this / o). */
  floorDiv(o: SymExpr | number): SymExpr {
    const d = toExpr(o);
    const exact = this.divideExactly(d);
    if (exact) return exact;
    const [x, y] = [this.value, d.value];
    if (x !== null && y !== null) return SymExpr.constant(Math.floor(x / y));
    return SymExpr.atom({ kind: 'floordiv', a: this, b: d });
  }

  /** ceil(this / o). */
  ceilDiv(o: SymExpr | number): SymExpr {
    const d = toExpr(o);
    const exact = this.divideExactly(d);
    if (exact) return exact;
    const [x, y] = [this.value, d.value];
    if (x !== null && y !== null) return SymExpr.constant(Math.ceil(x / y));
    return SymExpr.atom({ kind: 'ceildiv', a: this, b: d });
  }

  mod(o: SymExpr | number): SymExpr {
    const d = toExpr(o);
    const [x, y] = [this.value, d.value];
    if (x !== null && y !== null) return SymExpr.constant(((x % y) + y) % y);
    if (this.divideExactly(d)) return SymExpr.constant(0);
    return SymExpr.atom({ kind: 'mod', a: this, b: d });
  }

  max(o: SymExpr | number): SymExpr {
    return this.extreme(toExpr(o), 'max');
  }

  min(o: SymExpr | number): SymExpr {
    return this.extreme(toExpr(o), 'min');
  }

  private extreme(o: SymExpr, kind: 'max' | 'min'): SymExpr {
    if (this.equals(o)) return this;
    const diff = this.sub(o).value;
    if (diff !== null) return (diff >= 0) === (kind === 'max') ? this : o;
    const [a, b] = this.key < o.key ? [this, o] : [o, this];
    return SymExpr.atom({ kind, a, b });
  }

  /** this / d when every coefficient divides (d a non-zero constant) or this is a multiple of the monomial d. */
  private divideExactly(d: SymExpr): SymExpr | null {
    const c = d.value;
    if (c !== null) {
      if (c === 0) throw new SymbolicError('division by zero in a shape expression');
      const terms = [...this.terms.values()];
      return terms.every((t) => t.coef % c === 0) ? SymExpr.of(terms.map((t) => ({ coef: t.coef / c, atoms: t.atoms }))) : null;
    }
    if (d.terms.size !== 1) return null;
    const [dt] = d.terms.values();
    const out: Term[] = [];
    for (const t of this.terms.values()) {
      const rest = removeAtoms(t.atoms, dt.atoms);
      if (!rest || t.coef % dt.coef !== 0) return null;
      out.push({ coef: t.coef / dt.coef, atoms: rest });
    }
    return SymExpr.of(out);
  }

  /** Plain symbols the expression mentions, nested atoms included. */
  symbols(): Set<string> {
    const out = new Set<string>();
    const visit = (e: SymExpr) => {
      for (const t of e.terms.values()) {
        for (const a of t.atoms) {
          if (a.kind === 'sym') out.add(a.name);
          else {
            visit(a.a);
            visit(a.b);
          }
        }
      }
    };
    visit(this);
    return out;
  }

  /** Replaces plain symbols (those `map` knows) and re-normalises. */
  substitute(map: (name: string) => SymExpr | null): SymExpr {
    let out = SymExpr.constant(0);
    for (const t of this.terms.values()) {
      let term = SymExpr.constant(t.coef);
      for (const a of t.atoms) term = term.mul(a.kind === 'sym' ? map(a.name) ?? SymExpr.symbol(a.name) : applyAtom(a.kind, a.a.substitute(map), a.b.substitute(map)));
      out = out.add(term);
    }
    return out;
  }

  /** The value under `bindings`; throws when a symbol is unbound. */
  evaluate(bindings: ReadonlyMap<string, number>): number {
    const r = this.substitute((name) => {
      const v = bindings.get(name);
      if (v === undefined) throw new SymbolicError(`symbol '${name}' is unbound`);
      return SymExpr.constant(v);
    }).value;
    if (r === null) throw new SymbolicError(`'${this.key}' does not evaluate to a constant`);
    return r;
  }
}

function toExpr(o: SymExpr | number): SymExpr {
  return typeof o === 'number' ? SymExpr.constant(o) : o;
}

function applyAtom(kind: AtomOp, a: SymExpr, b: SymExpr): SymExpr {
  switch (kind) {
    case 'floordiv': return a.floorDiv(b);
    case 'ceildiv': return a.ceilDiv(b);
    case 'mod': return a.mod(b);
    case 'max': return a.max(b);
    case 'min': return a.min(b);
  }
}

/** `atoms` without one occurrence of each of `remove`, or null when one is missing. */
function removeAtoms(atoms: readonly Atom[], remove: readonly Atom[]): Atom[] | null {
  const rest = [...atoms];
  for (const r of remove) {
    const i = rest.findIndex((a) => atomKey(a) === atomKey(r));
    if (i < 0) return null;
    rest.splice(i, 1);
  }
  return rest;
}

export type SymShape = SymExpr[];

/** A dimension from a type: numbers are constants, strings are symbols. */
export function dimExpr(d: number | string): SymExpr {
  return typeof d === 'number' ? SymExpr.constant(d) : SymExpr.symbol(d);
}

/**
 * Equalities between dimensions discovered while inferring (both sides of an
 * Add, the two branches of an If...). A symbol is bound to an expression in
 * terms of others; resolving substitutes bindings to a fixpoint.
 */
export class DimUnifier {
  private readonly bound = new Map<string, SymExpr>();
  /** Equalities that contradicted each other (e.g. two different constants). */
  readonly conflicts: string[] = [];

  resolve(e: SymExpr): SymExpr {
    let cur = e;
    for (let i = 0; i <= this.bound.size; i++) {
      const next = cur.substitute((n) => this.bound.get(n) ?? null);
      if (next.equals(cur)) return cur;
      cur = next;
    }
    return cur;
  }

  /** Records a = b; returns false (and records a conflict) when they are provably different. */
  unify(a: SymExpr, b: SymExpr, where = ''): boolean {
    const x = this.resolve(a);
    const y = this.resolve(b);
    if (x.equals(y)) return true;
    const diff = x.sub(y).value;
    if (diff !== null) {
      this.conflicts.push(`${where ? `${where}: ` : ''}${x.key} ≠ ${y.key}`);
      return false;
    }
    // Bind the side that is a plain symbol, preferring to keep named (earlier) symbols as representatives.
    const [from, to] = y.symbolName !== null && !x.symbols().has(y.symbolName) ? [y, x] : [x, y];
    const name = from.symbolName;
    if (name !== null && !to.symbols().has(name)) this.bound.set(name, to);
    return true;
  }

  /** Current bindings (symbol → representative expression), resolved. */
  bindings(): Map<string, SymExpr> {
    return new Map([...this.bound.keys()].map((k) => [k, this.resolve(SymExpr.symbol(k))]));
  }
}
