// The extension's settings (`infill.*`) as the server's settings object. The same object goes
// out as `initializationOptions` when the server starts and as `workspace/didChangeConfiguration`
// when the user edits a setting that the server applies live.
//
// No `vscode` import here: the mapping is unit-tested under plain Node.

/** What the extension reads from `vscode.workspace.getConfiguration('infill')`. */
export interface SettingsReader {
  get<T>(key: string): T | undefined;
}

export type ServerSettings = Record<string, unknown>;

/**
 * Server keys that take effect only when the server restarts (the model is loaded with them).
 * The server declares the same list (`RESTART_KEYS` in src/config.rs; a Rust test holds them equal).
 */
export const RESTART_KEYS: readonly string[] = [
  'engine',
  'model',
  'family',
  'threads',
  'contextSize',
  'gpuLayers',
  'mainGpu',
  'flashAttention',
  'kvCacheType',
];

/** Settings the server applies live. */
const LIVE_KEYS: readonly string[] = [
  'disabledFiles',
  'disabledLanguages',
  'maxTokens',
  'minConfidence',
  'multiline',
  'prefixTokens',
  'repoContext',
  'repoContextTokens',
  'suffixTokens',
  'temperature',
  'trace',
];

/** The server's settings from the extension's. Empty strings and `threads: 0` mean "not set". */
export function serverSettings(config: SettingsReader): ServerSettings {
  const out: ServerSettings = {};
  const model = config.get<string>('model')?.trim();
  if (model) {
    out.model = expandHome(model);
  }
  // Where prompts go: `{kind: 'llama-server', url: ...}`; absent or empty: in-process.
  const engine = config.get<unknown>('engine');
  const isObject = engine !== null && typeof engine === 'object' && !Array.isArray(engine);
  if (isObject && Object.keys(engine).length > 0) {
    out.engine = engine;
  }
  const family = config.get<string>('family')?.trim();
  if (family) {
    out.family = family;
  }
  const threads = config.get<number>('threads');
  if (typeof threads === 'number' && threads > 0) {
    out.threads = threads;
  }
  const contextSize = config.get<number>('contextSize');
  if (typeof contextSize === 'number') {
    out.contextSize = contextSize;
  }
  const contextDeny = config.get<unknown>('contextDeny');
  if (Array.isArray(contextDeny) && contextDeny.length > 0) {
    out.contextDeny = (contextDeny as unknown[]).filter(
      (p): p is string => typeof p === 'string' && p.trim() !== '',
    );
  }
  for (const key of LIVE_KEYS) {
    const value = config.get<unknown>(key);
    if (value !== undefined && value !== null) {
      out[key] = value;
    }
  }
  const extra = config.get<Record<string, unknown>>('extraOptions');
  if (extra && typeof extra === 'object' && !Array.isArray(extra)) {
    Object.assign(out, extra);
  }
  return out;
}

/** The server's arguments: LSP over stdio. */
export const SERVER_ARGS: string[] = ['serve'];

/** The server binary to start. */
export function serverCommand(config: SettingsReader): string {
  return expandHome(config.get<string>('serverPath')?.trim() || 'infill');
}

/**
 * The keys whose change needs a restart of the server (the binary, or what the model is
 * loaded with). Empty when `workspace/didChangeConfiguration` is enough.
 */
export function restartKeys(
  before: ServerSettings,
  after: ServerSettings,
  commandBefore: string,
  commandAfter: string,
): string[] {
  const changed = RESTART_KEYS.filter((key) => !sameValue(before[key], after[key]));
  if (commandBefore !== commandAfter) {
    changed.unshift('serverPath');
  }
  return changed;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function expandHome(path: string): string {
  const home = process.env.HOME ?? process.env.USERPROFILE;
  if (home && (path === '~' || path.startsWith('~/'))) {
    return home + path.slice(1);
  }
  return path;
}
