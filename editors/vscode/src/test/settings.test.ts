import assert from 'node:assert/strict';
import { test } from 'node:test';

import { restartKeys, serverCommand, serverSettings, SettingsReader } from '../settings';

/** A configuration as VS Code gives it: every contributed key with its default, then overrides. */
function reader(overrides: Record<string, unknown> = {}): SettingsReader {
  const defaults: Record<string, unknown> = {
    serverPath: 'infill',
    model: '',
    threads: 0,
    contextSize: 4096,
    family: '',
    engine: {},
    maxTokens: 64,
    minConfidence: 0.7,
    multiline: 'auto',
    prefixTokens: 1536,
    suffixTokens: 512,
    temperature: 0,
    trace: false,
    repoContext: true,
    repoContextTokens: 1024,
    contextDeny: [],
    disabledLanguages: ['plaintext', 'markdown', 'scminput', 'git-commit'],
    disabledFiles: [],
    extraOptions: {},
  };
  const values = { ...defaults, ...overrides };
  return { get: <T>(key: string) => values[key] as T | undefined };
}

void test('defaults leave model, family and threads to the server', () => {
  assert.deepEqual(serverSettings(reader()), {
    contextSize: 4096,
    disabledFiles: [],
    disabledLanguages: ['plaintext', 'markdown', 'scminput', 'git-commit'],
    maxTokens: 64,
    minConfidence: 0.7,
    multiline: 'auto',
    prefixTokens: 1536,
    repoContext: true,
    repoContextTokens: 1024,
    suffixTokens: 512,
    temperature: 0,
    trace: false,
  });
});

void test('repository context: on/off, budget and deny list apply live', () => {
  const before = serverSettings(reader());
  const off = serverSettings(reader({ repoContext: false, repoContextTokens: 256 }));
  assert.equal(off.repoContext, false);
  assert.equal(off.repoContextTokens, 256);
  assert.deepEqual(restartKeys(before, off, 'infill', 'infill'), []);
  const denied = serverSettings(reader({ contextDeny: ['secrets/**', ' ', 3] }));
  assert.deepEqual(denied.contextDeny, ['secrets/**']);
  assert.deepEqual(restartKeys(before, denied, 'infill', 'infill'), []);
});

void test('the model and what it is loaded with need a restart', () => {
  const before = serverSettings(reader());
  const other = serverSettings(reader({ model: '/m/other.gguf', contextSize: 2048 }));
  assert.deepEqual(restartKeys(before, other, 'infill', 'infill'), ['model', 'contextSize']);
});

void test('a remote engine is passed on whole and needs a restart', () => {
  const before = serverSettings(reader());
  const engine = { kind: 'llama-server', url: 'http://127.0.0.1:8080' };
  const remote = serverSettings(reader({ engine }));
  assert.deepEqual(remote.engine, engine);
  assert.deepEqual(restartKeys(before, remote, 'infill', 'infill'), ['engine']);
});

void test('set values map to the server keys, ~ expanded, extra options merged last', () => {
  const home = process.env.HOME;
  process.env.HOME = '/home/me';
  try {
    const settings = serverSettings(
      reader({
        model: ' ~/models/sc2.gguf ',
        threads: 2,
        family: 'starcoder2',
        maxTokens: 16,
        extraOptions: { topK: 20, maxTokens: 8 },
      }),
    );
    assert.equal(settings.model, '/home/me/models/sc2.gguf');
    assert.equal(settings.threads, 2);
    assert.equal(settings.family, 'starcoder2');
    assert.equal(settings.topK, 20);
    assert.equal(settings.maxTokens, 8);
    assert.equal(serverCommand(reader({ serverPath: '~/bin/infill' })), '/home/me/bin/infill');
  } finally {
    process.env.HOME = home;
  }
});

void test('the server path defaults to infill on PATH', () => {
  assert.equal(serverCommand(reader({ serverPath: '  ' })), 'infill');
});

void test('model, threads, context size, family and the binary need a restart; the rest does not', () => {
  const before = serverSettings(reader());
  assert.deepEqual(restartKeys(before, serverSettings(reader({ maxTokens: 5, trace: true })), 'infill', 'infill'), []);
  assert.deepEqual(
    restartKeys(before, serverSettings(reader({ model: '/m.gguf', threads: 1 })), 'infill', 'infill'),
    ['model', 'threads'],
  );
  assert.deepEqual(restartKeys(before, before, 'infill', '/opt/infill'), ['serverPath']);
  assert.deepEqual(
    restartKeys(before, serverSettings(reader({ contextSize: 2048, family: 'codellama' })), 'a', 'a'),
    ['family', 'contextSize'],
  );
});
