import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Clock, CursorRest } from '../cursorRest';

/** A clock the test advances by hand. */
class FakeClock implements Clock {
  now = 0;
  private timers = new Map<number, { at: number; run: () => void }>();
  private next = 0;

  setTimeout(run: () => void, ms: number): unknown {
    this.next += 1;
    this.timers.set(this.next, { at: this.now + ms, run });
    return this.next;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  advance(ms: number): void {
    this.now += ms;
    for (const [handle, timer] of [...this.timers]) {
      if (timer.at <= this.now) {
        this.timers.delete(handle);
        timer.run();
      }
    }
  }
}

void test('only where the cursor comes to rest is sent, once', () => {
  const clock = new FakeClock();
  const sent: string[] = [];
  const rest = new CursorRest<string>((place) => sent.push(place), 300, clock);
  rest.moved('a.py', 1, 'a:1');
  clock.advance(100);
  rest.moved('a.py', 1, 'a:2');
  clock.advance(299);
  assert.deepEqual(sent, []);
  clock.advance(1);
  assert.deepEqual(sent, ['a:2']);
  clock.advance(1000);
  assert.deepEqual(sent, ['a:2']);
});

void test('a move that came with an edit is not sent', () => {
  const clock = new FakeClock();
  const sent: string[] = [];
  const rest = new CursorRest<string>((place) => sent.push(place), 300, clock);
  rest.moved('a.py', 1, 'a:1');
  rest.moved('a.py', 2, 'a:typed');
  clock.advance(300);
  assert.deepEqual(sent, [], 'the edit cancelled the move before it, and is not sent itself');
  rest.moved('a.py', 2, 'a:clicked');
  clock.advance(300);
  assert.deepEqual(sent, ['a:clicked']);
  // Another document's first move is sent; after `closed` a document starts afresh.
  rest.moved('b.py', 7, 'b:1');
  clock.advance(300);
  rest.closed('b.py');
  rest.moved('b.py', 9, 'b:2');
  clock.advance(300);
  assert.deepEqual(sent, ['a:clicked', 'b:1', 'b:2']);
  rest.moved('a.py', 2, 'a:last');
  rest.dispose();
  clock.advance(300);
  assert.deepEqual(sent, ['a:clicked', 'b:1', 'b:2']);
});
