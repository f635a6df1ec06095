// The infill extension: starts `infill` over stdio with the LSP client library, which shows
// its `textDocument/inlineCompletion` answers as ghost text (the library's inline completion
// feature). Settings go to the server as `initializationOptions` and, when they change,
// as `workspace/didChangeConfiguration` (or a restart for the keys the model is loaded with).
// A status bar item follows the server's `infill/status` notifications and error messages.
// Where the cursor comes to rest without an edit, the server is told (`cursorRest.ts`).

import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  ShowMessageNotification,
  State,
} from 'vscode-languageclient/node';

import { CursorRest } from './cursorRest';
import { ClientLifecycle, ManagedClient } from './lifecycle';
import { restartKeys, SERVER_ARGS, ServerSettings, serverCommand, serverSettings } from './settings';
import { INITIAL, reduce, StatusEvent, StatusState, view } from './status';

const SECTION = 'infill';

/** Starts and replaces the language client (module-level for `deactivate`). */
let lifecycle: ClientLifecycle<ManagedLanguageClient> | undefined;

/** The library's client, as the lifecycle sees it. */
class ManagedLanguageClient extends LanguageClient implements ManagedClient {
  isStarting(): boolean {
    return this.state === State.Starting;
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('infill', { log: true });
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  item.name = 'infill';
  item.command = 'infill.showOutput';
  context.subscriptions.push(output, item);

  let status: StatusState = INITIAL;
  const update = (event: StatusEvent): void => {
    status = reduce(status, event);
    const shown = view(status);
    item.text = shown.text;
    item.tooltip = shown.tooltip;
    item.backgroundColor = shown.alarming
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : undefined;
    item.show();
  };
  update({ kind: 'clientStopped' });

  const config = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration(SECTION);
  let sent: ServerSettings = serverSettings(config());
  let command = serverCommand(config());

  const makeClient = (): ManagedLanguageClient => {
    // No `transport`: with TransportKind.stdio the client would append `--stdio` to the
    // arguments. Without it, the process still talks LSP over stdin/stdout.
    const serverOptions: ServerOptions = { command, args: SERVER_ARGS };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      // Read when the server (re)starts, so a restart picks up the settings of that moment.
      initializationOptions: () => {
        sent = serverSettings(config());
        return sent;
      },
      outputChannel: output,
    };
    const created = new ManagedLanguageClient('infill', 'infill', serverOptions, clientOptions);
    // What a replaced client still reports (its late failure or stop) is not this server's state.
    const current = (): boolean => lifecycle?.isCurrent(created) ?? false;
    created.onDidChangeState((change) => {
      if (!current()) {
        return;
      }
      if (change.newState === State.Starting) {
        update({ kind: 'clientStarting' });
      } else if (change.newState === State.Stopped) {
        update({ kind: 'clientStopped' });
      }
    });
    // Registered before start: the server reports loading right after `initialized`.
    created.onNotification('infill/status', (params: { state: 'loading' | 'ready' | 'error'; message: string }) => {
      if (current()) {
        update({ kind: 'serverStatus', state: params.state, message: params.message });
      }
    });
    created.onNotification(ShowMessageNotification.type, (params) => {
      if (!current()) {
        return;
      }
      update({ kind: 'message', type: params.type, message: params.message });
      if (params.type === 1) {
        void vscode.window.showErrorMessage(params.message);
      } else if (params.type === 2) {
        void vscode.window.showWarningMessage(params.message);
      } else {
        void vscode.window.showInformationMessage(params.message);
      }
    });
    created.onNotification('infill/trace', (params: { uri: string; suggestion: string; generation: Record<string, unknown> }) => {
      const g = params.generation;
      output.appendLine(
        `[trace] ${params.uri}: ${JSON.stringify(params.suggestion)} — prompt ${String(g.promptTokens)} tokens ` +
          `(${String(g.reusedTokens)} reused) in ${String(g.promptMs)} ms, ${String(g.generatedTokens)} generated in ${String(g.generationMs)} ms`,
      );
    });
    return created;
  };

  const clients = new ClientLifecycle(
    () => {
      command = serverCommand(config());
      return makeClient();
    },
    (err) => {
      update({ kind: 'message', type: 1, message: `cannot start ${command}: ${String(err)}` });
      void vscode.window.showErrorMessage(
        `infill: cannot start \`${command}\` (set infill.serverPath): ${String(err)}`,
      );
    },
  );
  lifecycle = clients;
  const restart = (): Promise<void> => clients.restart();

  // Where the cursor comes to rest without an edit, the server prepares the prompt.
  const cursorRest = new CursorRest<{ document: vscode.Uri; position: vscode.Position }>((place) => {
    const client = clients.client;
    if (!client?.isRunning()) {
      return;
    }
    void client.sendNotification('infill/cursorMoved', {
      textDocument: { uri: client.code2ProtocolConverter.asUri(place.document) },
      position: client.code2ProtocolConverter.asPosition(place.position),
    });
  });

  context.subscriptions.push(
    vscode.commands.registerCommand('infill.restart', restart),
    vscode.window.onDidChangeTextEditorSelection((event) => {
      const document = event.textEditor.document;
      const position = event.selections[0]?.active;
      if (position && ['file', 'untitled'].includes(document.uri.scheme)) {
        cursorRest.moved(document.uri.toString(), document.version, { document: document.uri, position });
      }
    }),
    vscode.workspace.onDidCloseTextDocument((document) => cursorRest.closed(document.uri.toString())),
    cursorRest,
    vscode.commands.registerCommand('infill.showOutput', () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration(SECTION)) {
        return;
      }
      const next = serverSettings(config());
      const changed = restartKeys(sent, next, command, serverCommand(config()));
      if (changed.length > 0) {
        output.info(`restarting the server: ${changed.join(', ')} changed`);
        await restart();
        return;
      }
      sent = next;
      await clients.client?.sendNotification(DidChangeConfigurationNotification.type, { settings: next });
    }),
    { dispose: () => void clients.stop() },
  );

  await clients.start();
}

export async function deactivate(): Promise<void> {
  await lifecycle?.stop();
}
