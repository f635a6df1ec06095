import assert from 'node:assert/strict';
import { test } from 'node:test';

import { INITIAL, reduce, StatusEvent, view } from '../status';

function run(events: StatusEvent[]) {
  return events.reduce(reduce, INITIAL);
}

void test('starting, loading, ready', () => {
  let state = run([{ kind: 'clientStarting' }]);
  assert.equal(view(state).text, '$(loading~spin) infill');
  state = reduce(state, { kind: 'serverStatus', state: 'loading', message: 'loading the model' });
  assert.match(view(state).tooltip, /loading the model/);
  state = reduce(state, { kind: 'serverStatus', state: 'ready', message: 'sc2.gguf ready (starcoder2 format, 900 ms)' });
  assert.equal(view(state).text, '$(sparkle) infill');
  assert.match(view(state).tooltip, /sc2\.gguf ready/);
  assert.equal(view(state).alarming, false);
});

void test('an error message turns the item red; warnings do not', () => {
  const ready = run([{ kind: 'serverStatus', state: 'ready', message: 'ok' }]);
  assert.equal(reduce(ready, { kind: 'message', type: 2, message: 'setting `x` ignored' }), ready);
  const failed = reduce(ready, { kind: 'message', type: 1, message: 'infill: model not found' });
  assert.equal(view(failed).text, '$(error) infill');
  assert.equal(view(failed).alarming, true);
  assert.match(view(failed).tooltip, /model not found/);
});

void test('a stop keeps the reason of an earlier error', () => {
  const failed = run([{ kind: 'serverStatus', state: 'error', message: 'model not loaded: bad file' }]);
  assert.equal(reduce(failed, { kind: 'clientStopped' }), failed);
});

void test('a server that stops or never starts shows as an error', () => {
  const crashed = reduce(run([{ kind: 'serverStatus', state: 'ready', message: 'ok' }]), { kind: 'clientStopped' });
  assert.equal(crashed.phase, 'error');
  assert.equal(view(crashed).alarming, true);
  const neverStarted = run([{ kind: 'clientStarting' }, { kind: 'clientStopped' }, { kind: 'clientStarting' }, { kind: 'clientStopped' }]);
  assert.equal(neverStarted.phase, 'error');
  assert.match(view(neverStarted).tooltip, /stopped/);
  assert.equal(reduce(INITIAL, { kind: 'clientStopped' }), INITIAL);
});
