package loadgen

import "fmt"

// The HTTP transports' input (SSE, long-poll): the response head, then
// the body, on the Loop's goroutine.

// head parses a response head at the start of data and readies the body
// decoder; n is 0 while the head is incomplete.
func (c *Conn) head(data []byte) (h responseHead, n int, err error) {
	h, n, err = parseHead(data)
	if n == 0 || err != nil {
		return h, n, err
	}
	c.status, c.closing = h.status, h.close
	c.body = newBody(h)
	c.inBody = true
	return h, n, nil
}

// consumeEventStream handles the response head, then body bytes, and
// returns what is left incomplete.
func (l *Loop) consumeEventStream(c *Conn, data []byte) ([]byte, error) {
	if c.state == stateHandshake {
		h, n, err := c.head(data)
		if n == 0 || err != nil {
			return data, err
		}
		if h.status != 200 {
			return nil, ProtocolError(fmt.Sprintf("event stream refused: %q", data[:min(n, 80)]))
		}
		data = data[n:]
		l.opened(c)
	}
	emit := func(ev *Event) bool {
		c.Received++
		l.h.Event(c, ev)
		return c.state != stateClosed
	}
	for c.state != stateClosed {
		body, used, done, err := c.body.next(data)
		if err != nil {
			return nil, err
		}
		if len(body) > 0 {
			if err := c.events.feed(body, emit); err != nil {
				return nil, err
			}
		}
		data = data[used:]
		if done {
			l.drop(c, ErrClosedByServer)
			return nil, nil
		}
		if used == 0 {
			return data, nil
		}
	}
	return nil, nil
}

// consumePoll handles each reply in data and returns what is left
// incomplete.
func (l *Loop) consumePoll(c *Conn, data []byte) ([]byte, error) {
	for len(data) > 0 && c.state != stateClosed {
		if !c.inBody {
			_, n, err := c.head(data)
			if n == 0 || err != nil {
				return data, err
			}
			data = data[n:]
		}
		body, used, done, err := c.body.next(data)
		if err != nil {
			return nil, err
		}
		c.reply = append(c.reply, body...)
		data = data[used:]
		if done {
			l.replied(c)
			continue
		}
		if used == 0 {
			return data, nil
		}
	}
	return data, nil
}

// replied hands a complete reply to the handler.
func (l *Loop) replied(c *Conn) {
	c.inBody = false
	c.Received++
	l.h.Response(c, c.status, c.reply)
	c.reply = c.reply[:0]
	if c.closing && c.state != stateClosed {
		l.drop(c, ErrClosedByServer) // no next poll on this connection
	}
}
