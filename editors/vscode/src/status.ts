// What the status bar item shows, from what the client and the server report. Pure: the
// extension feeds it events and draws the view; unit-tested under plain Node.

export type Phase = 'starting' | 'loading' | 'ready' | 'error' | 'stopped';

export interface StatusState {
  phase: Phase;
  /** The last sentence worth showing (model name and load time, or what went wrong). */
  detail: string;
}

export type StatusEvent =
  /** The language client is starting the server process. */
  | { kind: 'clientStarting' }
  /** The client stopped (the server exited or the user stopped it). */
  | { kind: 'clientStopped' }
  /** `infill/status` from the server. */
  | { kind: 'serverStatus'; state: 'loading' | 'ready' | 'error'; message: string }
  /** `window/showMessage` from the server; type 1 is an error. */
  | { kind: 'message'; type: number; message: string };

export const INITIAL: StatusState = { phase: 'stopped', detail: 'not started' };

export function reduce(state: StatusState, event: StatusEvent): StatusState {
  switch (event.kind) {
    case 'clientStarting':
      return { phase: 'starting', detail: 'starting the server' };
    case 'clientStopped':
      // A restart starts again at once, so a stop that stays is the server failing (it could not
      // start, or it exited): keep an earlier reason, else say so.
      if (state.phase === 'error' || state.phase === 'stopped') {
        return state;
      }
      return { phase: 'error', detail: 'the server stopped; see the log (click)' };
    case 'serverStatus':
      return { phase: event.state, detail: event.message };
    case 'message':
      // Errors (a model that cannot load, the engine failing) turn the item red until the next
      // status; warnings and information leave it alone.
      return event.type === 1 ? { phase: 'error', detail: event.message } : state;
  }
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** Draw the item with the error background. */
  alarming: boolean;
}

const ICONS: Record<Phase, string> = {
  starting: '$(loading~spin)',
  loading: '$(loading~spin)',
  ready: '$(sparkle)',
  error: '$(error)',
  stopped: '$(circle-slash)',
};

const WORDS: Record<Phase, string> = {
  starting: 'starting',
  loading: 'loading the model',
  ready: 'ready',
  error: 'error',
  stopped: 'stopped',
};

export function view(state: StatusState): StatusView {
  return {
    text: `${ICONS[state.phase]} infill`,
    tooltip: `infill: ${WORDS[state.phase]} — ${state.detail}\nClick to show the log.`,
    alarming: state.phase === 'error',
  };
}
