/**
 * A tiny typed event emitter. `E` maps event names to argument tuples. Listener exceptions are caught
 * and passed to `onListenerError` (an upper-layer bug must not break a SIP state machine).
 */
type Args<T> = T extends unknown[] ? T : never;
type AnyListener = (...args: unknown[]) => void;

export class Emitter<E> {
  private readonly listeners = new Map<keyof E, Set<AnyListener>>();

  constructor(private readonly onListenerError: (event: string, err: unknown) => void = () => {}) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, fn: (...args: Args<E[K]>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const l = fn as unknown as AnyListener;
    set.add(l);
    return () => set!.delete(l);
  }

  emit<K extends keyof E>(event: K, ...args: Args<E[K]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...(args as unknown[]));
      } catch (err) {
        this.onListenerError(String(event), err);
      }
    }
  }
}
