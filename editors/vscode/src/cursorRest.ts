// Where the cursor comes to rest after moving without an edit (a click, go to definition): the
// server is told (`infill/cursorMoved`) and evaluates the prompt there while the user reads, so
// the first suggestion once they type there comes at once. Pure (no `vscode` import):
// unit-tested under plain Node with a fake clock.

/** How long the cursor stays put before the server is told. */
export const CURSOR_REST_MS = 300;

/** The timer functions, replaceable in tests. */
export interface Clock {
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class CursorRest<P> {
  private timer: unknown;
  /** Each document's version at its last cursor event. */
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly send: (place: P) => void,
    private readonly delayMs = CURSOR_REST_MS,
    private readonly clock: Clock = realClock,
  ) {}

  /**
   * The cursor of `document` (at `version`) moved to `place`. A move that came with an edit is
   * not sent: the server warms up after edits by itself.
   */
  moved(document: string, version: number, place: P): void {
    const last = this.versions.get(document);
    this.versions.set(document, version);
    this.cancel();
    if (last !== undefined && last !== version) {
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.send(place);
    }, this.delayMs);
  }

  /** The document is gone: forget it. */
  closed(document: string): void {
    this.versions.delete(document);
  }

  dispose(): void {
    this.cancel();
    this.versions.clear();
  }

  private cancel(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
