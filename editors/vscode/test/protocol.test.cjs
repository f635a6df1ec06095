// The infill server driven exactly as the VS Code extension drives it: the same command line
// (`infill serve` over stdio), the same initializationOptions and didChangeConfiguration objects
// (built by the extension's own compiled settings module), the capabilities and message shapes
// vscode-languageclient sends (inline completion with a trigger kind, incremental didChange with
// rangeLength, cancellation of the previous request while typing, the item's command run on
// accept). Needs `npm run compile` first and the infill binary: $INFILL_BIN, else
// $CARGO_TARGET_DIR/release/infill, else ~/.cache/infill/target/release/infill.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const { pathToFileURL } = require('node:url');

const lsp = require('vscode-languageserver-protocol/node');
const { serverSettings, serverCommand, SERVER_ARGS } = require('../out/settings.js');

const REPO = path.resolve(__dirname, '../../..');
const TINY_MODEL = path.join(REPO, 'assets/tiny-starcoder2.gguf');
const REAL_MODEL =
  process.env.INFILL_TEST_MODEL ||
  path.join(os.homedir(), '.cache/infill/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf');
const PATIENCE_MS = 120_000;

function infillBinary() {
  if (process.env.INFILL_BIN) return process.env.INFILL_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/infill/target');
  return path.join(target, 'release/infill');
}

/** VS Code's view of the `infill.*` settings: contributed defaults plus the user's values. */
function vscodeConfig(overrides) {
  const pkg = require('../package.json');
  const values = {};
  for (const [key, schema] of Object.entries(pkg.contributes.configuration.properties)) {
    values[key.replace(/^infill\./, '')] = schema.default;
  }
  Object.assign(values, overrides);
  return { get: (key) => values[key] };
}

/** Resolves when `predicate` holds, polling as messages arrive, or fails at the deadline. */
function waitFor(what, predicate, ms = PATIENCE_MS) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const poll = () => {
      const found = predicate();
      if (found) return resolve(found);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

class Editor {
  constructor(config, root) {
    this.root = root;
    this.state = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-vscode-state-'));
    // Exactly the extension's ServerOptions: { command: serverCommand(config), args: SERVER_ARGS }.
    const command = process.env.INFILL_BIN || (serverCommand(config) === 'infill' ? infillBinary() : serverCommand(config));
    this.child = spawn(command, SERVER_ARGS, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, XDG_STATE_HOME: this.state, XDG_CACHE_HOME: this.state, INFILL_LOG: 'info' },
    });
    this.stderr = '';
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.connection = lsp.createProtocolConnection(
      new lsp.StreamMessageReader(this.child.stdout),
      new lsp.StreamMessageWriter(this.child.stdin),
    );
    this.notifications = [];
    this.connection.onNotification((method, params) => this.notifications.push({ method, params }));
    this.connection.onRequest(lsp.WorkDoneProgressCreateRequest.type, () => null);
    this.connection.onProgress(lsp.WorkDoneProgress.type, 'infill/loading', (value) =>
      this.notifications.push({ method: '$/progress', params: value }),
    );
    this.connection.listen();
    this.version = new Map();
  }

  seen(method, accept = () => true) {
    return this.notifications.find((n) => n.method === method && accept(n.params));
  }

  async initialize(config) {
    const uri = pathToFileURL(this.root).href;
    const result = await this.connection.sendRequest(lsp.InitializeRequest.type, {
      processId: process.pid,
      clientInfo: { name: 'Visual Studio Code', version: '1.91.0' },
      locale: 'en',
      rootPath: this.root,
      rootUri: uri,
      workspaceFolders: [{ uri, name: path.basename(this.root) }],
      initializationOptions: serverSettings(config),
      capabilities: {
        general: { positionEncodings: ['utf-16'], markdown: { parser: 'marked', version: '1.1.0' } },
        window: { workDoneProgress: true, showMessage: { messageActionItem: { additionalPropertiesSupport: true } } },
        workspace: {
          applyEdit: true,
          configuration: true,
          workspaceFolders: true,
          didChangeConfiguration: { dynamicRegistration: true },
          executeCommand: { dynamicRegistration: true },
        },
        textDocument: {
          synchronization: { dynamicRegistration: true, willSave: true, willSaveWaitUntil: true, didSave: true },
          inlineCompletion: { dynamicRegistration: true },
          completion: { dynamicRegistration: true, contextSupport: true, completionItem: { snippetSupport: true } },
        },
      },
    });
    await this.connection.sendNotification(lsp.InitializedNotification.type, {});
    return result;
  }

  async open(uri, languageId, text) {
    this.version.set(uri, 1);
    await this.connection.sendNotification(lsp.DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId, version: 1, text },
    });
  }

  /** One keystroke or paste as VS Code sends it: an incremental change with rangeLength. */
  async type(uri, line, character, text) {
    const version = this.version.get(uri) + 1;
    this.version.set(uri, version);
    const at = { line, character };
    await this.connection.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version },
      contentChanges: [{ range: { start: at, end: at }, rangeLength: 0, text }],
    });
  }

  inline(uri, line, character, token) {
    return this.connection.sendRequest(
      lsp.InlineCompletionRequest.type,
      {
        textDocument: { uri },
        position: { line, character },
        context: { triggerKind: lsp.InlineCompletionTriggerKind.Automatic },
      },
      token,
    );
  }

  async close() {
    await this.connection.sendRequest(lsp.ShutdownRequest.type);
    await this.connection.sendNotification(lsp.ExitNotification.type);
    const code = await this.exited;
    this.connection.dispose();
    fs.rmSync(this.state, { recursive: true, force: true });
    return code;
  }
}

// The workspace folder itself is named `name`, without mkdtemp's random letters: its name is the
// repository name in the model's prompt, and a real model's suggestion must not change per run.
function workspace(name) {
  const root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'infill-vscode-')), name);
  fs.mkdirSync(root);
  return root;
}

function removeWorkspace(root) {
  fs.rmSync(path.dirname(root), { recursive: true, force: true });
}

test('ghost text for fib.py with the real model, accepted and counted', { skip: !fs.existsSync(REAL_MODEL) && `no real model at ${REAL_MODEL} (run assets/fetch-model.sh)` }, async () => {
  const root = workspace('proj'); // with this name, `fib` leads `else` by 1.1 in log-probability
  const file = path.join(root, 'fib.py');
  const text = fs.readFileSync(path.join(REPO, 'assets/examples/fib.py'), 'utf8').replace('    return \n', '    ret\n');
  fs.writeFileSync(file, text);
  const uri = pathToFileURL(file).href;
  const config = vscodeConfig({ model: REAL_MODEL, threads: 1, maxTokens: 24 });
  const editor = new Editor(config, root);
  try {
    const init = await editor.initialize(config);
    assert.equal(init.capabilities.inlineCompletionProvider, true);
    assert.equal(init.capabilities.positionEncoding, 'utf-16');
    assert.deepEqual(init.capabilities.executeCommandProvider.commands, ['infill.accepted']);
    const ready = await waitFor('infill/status ready', () =>
      editor.seen('infill/status', (p) => p.state !== 'loading'),
    );
    assert.equal(ready.params.state, 'ready', JSON.stringify(ready) + editor.stderr);
    assert.ok(editor.seen('$/progress', (p) => p.kind === 'begin'), 'progress begin');
    assert.ok(editor.seen('$/progress', (p) => p.kind === 'end' && /ready/.test(p.message)), 'progress end');

    await editor.open(uri, 'python', text);
    // Typing `urn ` after `ret`: VS Code asks on every keystroke and cancels the previous ask.
    let pending;
    let source;
    let character = 7;
    for (const ch of ['u', 'r', 'n', ' ']) {
      source?.cancel();
      await editor.type(uri, 3, character, ch);
      character += 1;
      source = new lsp.CancellationTokenSource();
      pending = editor.inline(uri, 3, character, source.token);
      pending.catch(() => undefined);
    }
    const result = await pending;
    assert.ok(result && result.items.length === 1, JSON.stringify(result));
    const item = result.items[0];
    assert.match(item.insertText, /fib\(n\s*-\s*1\)/, `suggestion: ${item.insertText}`);
    assert.deepEqual(item.range, { start: { line: 3, character: 11 }, end: { line: 3, character: 11 } });

    // Accept: VS Code inserts the text (a didChange) and runs the item's command.
    await editor.type(uri, 3, 11, item.insertText);
    assert.equal(item.command.command, 'infill.accepted');
    const counted = await editor.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
      command: item.command.command,
      arguments: item.command.arguments,
    });
    assert.deepEqual(counted, { accepted: 1 });
    assert.equal(await editor.close(), 0);
  } finally {
    removeWorkspace(root);
  }
});

test('settings changed in VS Code reach the server without a restart', async () => {
  const root = workspace('config');
  const uri = pathToFileURL(path.join(root, 'a.py')).href;
  const config = vscodeConfig({ model: TINY_MODEL, threads: 1, maxTokens: 8, multiline: 'always' });
  const editor = new Editor(config, root);
  try {
    await editor.initialize(config);
    await waitFor('model loaded', () => editor.seen('infill/status', (p) => p.state === 'ready'));
    await editor.open(uri, 'python', 'def f(x):\n    return ');
    await editor.inline(uri, 1, 11);
    assert.equal(editor.seen('infill/trace'), undefined, 'trace is off at first');

    // What the extension sends on onDidChangeConfiguration for live keys.
    const changed = vscodeConfig({ model: TINY_MODEL, threads: 1, maxTokens: 1, multiline: 'always', trace: true });
    await editor.connection.sendNotification(lsp.DidChangeConfigurationNotification.type, {
      settings: serverSettings(changed),
    });
    await editor.inline(uri, 1, 11);
    const trace = await waitFor('infill/trace', () => editor.seen('infill/trace'));
    assert.ok(trace.params.generation.generatedTokens <= 1, JSON.stringify(trace.params.generation));
    assert.equal(await editor.close(), 0);
  } finally {
    removeWorkspace(root);
  }
});

test('a model that cannot load turns the status to error and says why', async () => {
  const root = workspace('bad');
  const config = vscodeConfig({ model: path.join(root, 'nowhere.gguf') });
  const editor = new Editor(config, root);
  try {
    await editor.initialize(config);
    const status = await waitFor('error status', () =>
      editor.seen('infill/status', (p) => p.state !== 'loading'),
    );
    assert.equal(status.params.state, 'error');
    assert.match(status.params.message, /nowhere\.gguf/);
    const shown = await waitFor('showMessage', () => editor.seen('window/showMessage', (p) => p.type === 1));
    assert.match(shown.params.message, /nowhere\.gguf/);
    assert.equal(await editor.close(), 0);
  } finally {
    removeWorkspace(root);
  }
});
