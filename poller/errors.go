package poller

import "errors"

var (
	// ErrBadParams means a transport's query parameters do not parse: a
	// bad topic name, too many topics, since without a matching topic, a
	// bad offset or epoch, a bad cursor or wait. The answer is 400.
	ErrBadParams = errors.New("poller: bad parameters")
	// ErrBadCallback means a JSONP or iframe callback is not a JavaScript
	// identifier or dotted path of them. The answer is 400.
	ErrBadCallback = errors.New("poller: bad callback name")
	// ErrBadSID means a /send sid does not parse. The answer is 404, as
	// for a session that is gone.
	ErrBadSID = errors.New("poller: bad session id")
)
