// Which language client is the current one, and how one replaces another. Pure (no `vscode`
// import): unit-tested under plain Node with fake clients.
//
// Why it exists: in VS Code for the web (code-server, vscode.dev) the user's settings can reach
// the extension host after the extension has activated, so the first start uses the default
// `serverPath` and the settings change restarts the server while that start is still under way.
// vscode-languageclient refuses to stop a client that is still starting, and the replaced
// client's late failure ("spawn infill ENOENT") must not turn the status of its successor red.

/** What the lifecycle needs of a language client. */
export interface ManagedClient {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True while `start()` has not settled (the library's `State.Starting`). */
  isStarting(): boolean;
}

export class ClientLifecycle<C extends ManagedClient> {
  private current: C | undefined;
  /** Bumped by every start or restart asked for; the newest one is what the user wants. */
  private wanted = 0;
  /** The request `current` was started for. */
  private currentTicket = 0;
  /** The requests run one at a time, in the order they were asked for. */
  private queue: Promise<void> = Promise.resolve();

  /**
   * @param create makes a new client (it reads the settings of that moment).
   * @param startFailed reports a start that failed, unless a newer start was asked for meanwhile.
   */
  constructor(
    private readonly create: () => C,
    private readonly startFailed: (error: unknown) => void,
  ) {}

  /** The client requests go to; `undefined` while none was started. */
  get client(): C | undefined {
    return this.current;
  }

  /**
   * Whether events of `client` should be shown: not once a newer start was asked for, even
   * before the replacement runs (the old client's late failure or stop is stale by then).
   */
  isCurrent(client: C): boolean {
    return this.current === client && this.currentTicket === this.wanted;
  }

  /** Starts a client; resolves when it is running or its failure was reported. */
  start(): Promise<void> {
    const ticket = ++this.wanted;
    return this.serially(() => this.startNew(ticket));
  }

  /**
   * Stops the current client (letting a start under way settle first) and starts a new one.
   * Of several restarts asked for in a row only the last starts a client.
   */
  restart(): Promise<void> {
    const ticket = ++this.wanted;
    return this.serially(async () => {
      await this.stopCurrent();
      if (ticket === this.wanted) {
        await this.startNew(ticket);
      }
    });
  }

  /** Stops the current client, if any. */
  stop(): Promise<void> {
    ++this.wanted;
    return this.serially(() => this.stopCurrent());
  }

  private serially(step: () => Promise<void>): Promise<void> {
    const done = this.queue.then(step);
    this.queue = done.catch(() => undefined);
    return done;
  }

  private async startNew(ticket: number): Promise<void> {
    const client = this.create();
    this.current = client;
    this.currentTicket = ticket;
    try {
      await client.start();
    } catch (error) {
      if (this.isCurrent(client)) {
        this.startFailed(error);
      }
    }
  }

  private async stopCurrent(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    if (!old) {
      return;
    }
    if (old.isStarting()) {
      // Our own starts have settled (the queue awaits them), but the library restarts a crashed
      // server by itself, and it cannot stop a starting client: let that start settle first.
      await old.start().catch(() => undefined);
    }
    // A client whose start failed is not running, and stopping it throws: nothing to stop.
    await old.stop().catch(() => undefined);
  }
}
