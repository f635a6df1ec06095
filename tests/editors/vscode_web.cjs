// VS Code itself (code-server 4.100.3 = VS Code 1.100, in headless Chromium driven by
// playwright-core) with the extension from editors/vscode installed from its .vsix: open fib.py
// with `    ret` on line 4, wait for the status bar item to turn ready, type `urn `, see the ghost
// text `fib(n-1) + fib(n-2)` in the editor, press Tab, save, and check the file and the server's
// log (the accept ran the item's command).
//
//   node tests/editors/vscode_web.cjs   with CODE_SERVER_DIR (tests/editors/code_server_setup.sh),
//   INFILL_BIN, INFILL_VSIX; optional CHROMIUM (/usr/bin/chromium), INFILL_TEST_MODEL.
// Prints "vscode-web: 1 passed, 0 failed" or the reason, a screenshot and the logs.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '../..');
const DIR = process.env.CODE_SERVER_DIR || path.join(os.homedir(), '.cache/infill/code-server');
const ENTRY = path.join(DIR, 'node_modules/code-server/out/node/entry.js');
const { chromium } = require(path.join(DIR, 'node_modules/playwright-core'));
const BIN = process.env.INFILL_BIN;
const VSIX = process.env.INFILL_VSIX;
const MODEL =
  process.env.INFILL_TEST_MODEL ||
  path.join(os.homedir(), '.cache/infill/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf');
const PATIENCE_MS = 180_000;

async function waitFor(what, probe, ms = PATIENCE_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function extensionLog(data) {
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name === 'infill.log') found.push(fs.readFileSync(p, 'utf8'));
    }
  };
  if (fs.existsSync(path.join(data, 'logs'))) walk(path.join(data, 'logs'));
  return found.join('\n');
}

async function main() {
  for (const [name, file] of [['INFILL_BIN', BIN], ['INFILL_VSIX', VSIX], ['model', MODEL], ['code-server', ENTRY]]) {
    if (!file || !fs.existsSync(file)) throw new Error(`${name} not found: ${file}`);
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-vscode-web-'));
  const ws = path.join(root, 'proj');
  fs.mkdirSync(ws);
  const file = path.join(ws, 'fib.py');
  const original = fs.readFileSync(path.join(REPO, 'assets/examples/fib.py'), 'utf8');
  fs.writeFileSync(file, original.replace('    return \n', '    ret\n'));
  const data = path.join(root, 'data');
  const extensions = path.join(root, 'extensions');
  fs.mkdirSync(path.join(data, 'User'), { recursive: true });
  // The user's settings, as they would set them in VS Code.
  fs.writeFileSync(
    path.join(data, 'User/settings.json'),
    JSON.stringify({
      'infill.serverPath': BIN,
      'infill.model': MODEL,
      'infill.threads': 1,
      'infill.maxTokens': 24,
      'workbench.startupEditor': 'none',
      'security.workspace.trust.enabled': false,
      'telemetry.telemetryLevel': 'off',
      'extensions.autoCheckUpdates': false,
      'update.mode': 'none',
      'files.autoSave': 'off',
    }),
  );
  const common = ['--user-data-dir', data, '--extensions-dir', extensions];
  execFileSync('node', [ENTRY, ...common, '--install-extension', VSIX], { stdio: 'pipe' });

  const port = 20000 + (process.pid % 10000);
  const server = spawn(
    'node',
    [ENTRY, ...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry',
      '--disable-update-check', '--disable-workspace-trust', ws],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let serverLog = '';
  server.stdout.on('data', (d) => (serverLog += d));
  server.stderr.on('data', (d) => (serverLog += d));
  let browser;
  let page;
  const shot = path.join(os.tmpdir(), `infill-vscode-web-${process.pid}.png`);
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await waitFor('code-server to listen', async () => /HTTP server listening/.test(serverLog));
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: PATIENCE_MS });
    await page.keyboard.press('Control+P');
    await page.waitForSelector('.quick-input-widget input', { timeout: 60_000 });
    await page.keyboard.type('fib.py');
    await waitFor('fib.py in Quick Open', async () => (await page.locator('.quick-input-list .monaco-list-row').count()) > 0);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.monaco-editor .view-lines', { timeout: 60_000 });
    // The status bar item: $(sparkle) once the server reported the model ready.
    await waitFor('the infill status bar item to show ready', async () =>
      (await page.locator('.statusbar-item:has-text("infill") .codicon-sparkle').count()) > 0);
    await page.keyboard.press('Control+G');
    await page.keyboard.type('4');
    await page.keyboard.press('Enter');
    await page.keyboard.press('End');
    await page.keyboard.type('urn ', { delay: 60 });
    const ghost = await waitFor('the ghost text', async () => {
      // Monaco renders spaces as U+00A0.
      const text = (await page.locator('.monaco-editor .ghost-text-decoration').allInnerTexts())
        .join('')
        .replace(/\u00a0/g, ' ');
      return text.includes('fib(n') ? text : undefined;
    });
    console.error(`VS Code shows ghost text ${JSON.stringify(ghost)}`);
    if (fs.readFileSync(file, 'utf8').split('\n')[3] !== '    ret') throw new Error('file changed before accepting');
    await page.keyboard.press('Tab');
    const accepted = `return ${ghost}`.trimEnd();
    await waitFor('the ghost text to become text', async () =>
      (await page.locator('.monaco-editor .view-line').allInnerTexts()).some((l) => l.replace(/\u00a0/g, ' ').trimEnd().endsWith(accepted)));
    await page.keyboard.press('Control+S');
    const line = await waitFor('fib.py saved with the suggestion', async () => {
      const l = fs.readFileSync(file, 'utf8').split('\n')[3];
      return l !== '    ret' && l !== '    return ' ? l : undefined;
    });
    if (line !== `    return ${ghost}`.trimEnd()) throw new Error(`saved ${JSON.stringify(line)}, shown ${JSON.stringify(ghost)}`);
    await waitFor('the accept in the server log', async () => /suggestion accepted accepted=1/.test(extensionLog(data)), 30_000);
    console.error(`saved line 4: ${JSON.stringify(line)}; the server counted the accept`);
  } catch (err) {
    await page?.screenshot({ path: shot }).catch(() => undefined);
    console.error(`screenshot: ${shot}\n--- extension output ---\n${extensionLog(data).slice(-4000)}\n--- code-server ---\n${serverLog.slice(-2000)}`);
    throw err;
  } finally {
    await browser?.close().catch(() => undefined);
    server.kill();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => {
    console.log('vscode-web: 1 passed, 0 failed');
  },
  (err) => {
    console.error(`FAIL: ${err.message}`);
    console.log('vscode-web: 0 passed, 1 failed');
    process.exit(1);
  },
);
