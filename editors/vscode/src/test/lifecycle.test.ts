import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ClientLifecycle, ManagedClient } from '../lifecycle';

/** A client whose start the test settles by hand, and which behaves like the library's. */
class FakeClient implements ManagedClient {
  private starting: Promise<void> | undefined;
  private settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  running = false;
  stops = 0;

  start(): Promise<void> {
    // Like vscode-languageclient: a second call while starting returns the same promise.
    this.starting ??= new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    }).then(() => {
      this.running = true;
    });
    return this.starting;
  }

  stop(): Promise<void> {
    if (!this.running) {
      return Promise.reject(new Error(`Client is not running and can't be stopped`));
    }
    this.running = false;
    this.stops += 1;
    return Promise.resolve();
  }

  isStarting(): boolean {
    return this.settle !== undefined;
  }

  succeed(): void {
    this.settle?.resolve();
    this.settle = undefined;
  }

  fail(message: string): void {
    this.settle?.reject(new Error(message));
    this.settle = undefined;
  }
}

function harness() {
  const made: FakeClient[] = [];
  const failures: string[] = [];
  const lifecycle = new ClientLifecycle(
    () => {
      const client = new FakeClient();
      made.push(client);
      return client;
    },
    (error) => failures.push(String(error)),
  );
  return { made, failures, lifecycle };
}

/** Lets queued promise callbacks run. */
const settleMicrotasks = () => new Promise((resolve) => setImmediate(resolve));

void test('a start that fails is reported', async () => {
  const { made, failures, lifecycle } = harness();
  const started = lifecycle.start();
  await settleMicrotasks();
  made[0].fail('spawn infill ENOENT');
  await started;
  assert.deepEqual(failures, ['Error: spawn infill ENOENT']);
  assert.equal(lifecycle.isCurrent(made[0]), true);
});

void test('a restart asked for while the first start is under way: the old failure is stale', async () => {
  const { made, failures, lifecycle } = harness();
  const first = lifecycle.start();
  await settleMicrotasks();
  // The user's settings arrive now (VS Code for the web): serverPath changed.
  const restarted = lifecycle.restart();
  assert.equal(lifecycle.isCurrent(made[0]), false, 'the starting client is replaced at once');
  made[0].fail('spawn infill ENOENT');
  await first;
  await settleMicrotasks();
  assert.equal(made.length, 2);
  made[1].succeed();
  await restarted;
  assert.deepEqual(failures, [], 'the replaced client failing is not reported');
  assert.equal(lifecycle.client, made[1]);
  assert.equal(lifecycle.isCurrent(made[1]), true);
  assert.equal(made[1].running, true);
});

void test('a client still starting is stopped once its start succeeds, then replaced', async () => {
  const { made, failures, lifecycle } = harness();
  void lifecycle.start();
  await settleMicrotasks();
  const restarted = lifecycle.restart();
  await settleMicrotasks();
  assert.equal(made.length, 1, 'no second server while the first is still starting');
  made[0].succeed();
  await settleMicrotasks();
  assert.equal(made[0].stops, 1, 'the first server is shut down');
  assert.equal(made[0].running, false);
  made[1].succeed();
  await restarted;
  assert.deepEqual(failures, []);
  assert.equal(lifecycle.client, made[1]);
});

void test('restarts asked for in a row start one client, the last', async () => {
  const { made, lifecycle } = harness();
  const first = lifecycle.start();
  await settleMicrotasks();
  made[0].succeed();
  await first;
  const a = lifecycle.restart();
  const b = lifecycle.restart();
  await settleMicrotasks();
  assert.equal(made.length, 2, 'one replacement for two restarts');
  made[1].succeed();
  await Promise.all([a, b]);
  assert.equal(made[0].stops, 1);
  assert.equal(lifecycle.isCurrent(made[1]), true);
});

void test('stop stops the running client and a failed restart is reported', async () => {
  const { made, failures, lifecycle } = harness();
  const first = lifecycle.start();
  await settleMicrotasks();
  made[0].succeed();
  await first;
  const restarted = lifecycle.restart();
  await settleMicrotasks();
  made[1].fail('spawn /bad/path ENOENT');
  await restarted;
  assert.deepEqual(failures, ['Error: spawn /bad/path ENOENT']);
  await lifecycle.stop();
  assert.equal(lifecycle.client, undefined);
  assert.equal(made[0].stops, 1);
});
