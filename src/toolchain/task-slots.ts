// A bound on the tool processes a compile runs at once: each unit's tools are
// single-threaded, so one task per core. Tasks start in the order they were
// queued, so a caller decides what runs first (the largest units) and what
// fills a core left idle at the end (the small runtime objects).

export class TaskSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  private readonly limit: number;

  constructor(limit: number) {
    this.limit = Math.max(1, Math.floor(limit));
  }

  /** Runs `task` once a slot is free (queued tasks first); the slot is released when it settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    // The finishing task hands its slot over: `running` stays as it is.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** A task's outcome, held without an unhandled rejection until someone needs it. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then((value) => ({ ok: true, value }), (error: unknown) => ({ ok: false, error }));
}

/** The value of a settled task, or its error thrown now. */
export async function valueOf<T>(s: Promise<Settled<T>>): Promise<T> {
  const r = await s;
  if (!r.ok) throw r.error;
  return r.value;
}
