// The room publications of c1m's Socket.IO tests, shared by the Node and
// browser clients (the browser page loads this file from the test's
// server): publication i (from 1) is text that is not JSON, so that both
// the reference server (which emits the body as a string) and c1m (whose
// encoder makes a JSON body a JSON value) hand it to the client as the one
// string argument of a "message" event. Kept in step with sioPublication
// in socketio_clients_test.go and with python/sio_client.py. Plain
// JavaScript, no Node API.
export function sioPublication(i) {
  return `pub #${i} héllo ✓ 😀 "q" \\ </script> & \u2028`;
}

// RoomSequence checks a room's "message" events as they arrive:
// publications first..last, each once and in order. The first wrong one
// stops it with a message saying what came instead of what.
export class RoomSequence {
  constructor(first, last) {
    this.next = first;
    this.last = last;
    this.got = 0;
    this.error = "";
  }

  get complete() {
    return !this.error && this.next > this.last;
  }

  // take checks one event's first argument; it returns false once the
  // sequence is broken.
  take(text) {
    if (this.error) return false;
    const want = sioPublication(this.next);
    if (this.next > this.last) {
      this.error = `after ${this.got} in order: an extra publication ${JSON.stringify(text)}`;
      return false;
    }
    if (text !== want) {
      this.error = `after ${this.got} in order: got ${JSON.stringify(text)}, want publication ${this.next}, ${JSON.stringify(want)}`;
      return false;
    }
    this.next++;
    this.got++;
    return true;
  }
}
