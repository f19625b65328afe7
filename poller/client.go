package poller

import _ "embed"

// ClientJS is c1m.js, the browser client that speaks every transport of
// this package and falls back between them by itself (client/c1m.js). The
// server serves it at PathClient with ClientContentType. Read-only.
//
//go:embed client/c1m.js
var ClientJS []byte

// ClientContentType is the content type of ClientJS.
const ClientContentType = "application/javascript; charset=utf-8"
