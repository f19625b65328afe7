package codec

import (
	"net/http"
	"strconv"
)

// AppendResponse appends a complete HTTP/1.1 response with a plain-text body
// and "Connection: close" to dst; extra is zero or more header lines, each
// ending in CRLF. It is how the server answers a request it will not serve:
// the connection is closed once the response is flushed.
func AppendResponse(dst []byte, status int, extra, body string) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(status)...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, extra...)
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// UpgradeRequiredHeaders are the extra headers of a 426 answer to a plain
// request on a WebSocket path (RFC 6455 section 4.4).
const UpgradeRequiredHeaders = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"

// AppendPage appends a 200 response carrying body with contentType and
// "Connection: close".
func AppendPage(dst []byte, contentType string, body []byte) []byte {
	dst = append(dst, "HTTP/1.1 200 OK\r\nContent-Type: "...)
	dst = append(dst, contentType...)
	dst = append(dst, "\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}
