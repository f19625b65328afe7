package browsertest

import "errors"

// ErrNoResult: the page did not set window.c1mResult before the context
// ended (or before the browser gave up on it). The error that wraps it says
// how long Run waited and carries the page's console errors.
var ErrNoResult = errors.New("browsertest: the page set no window.c1mResult")

// ErrNotJSON: the page set window.c1mResult to a value that JSON.stringify
// cannot encode (a function, undefined, a cycle).
var ErrNotJSON = errors.New("browsertest: window.c1mResult is not JSON-serialisable")
