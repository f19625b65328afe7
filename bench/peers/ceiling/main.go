// Command ceiling is not a server to choose but the yardstick of fan-out:
// it answers the WebSocket handshake with a fixed response and, per
// publication, writes one precomputed frame to each socket with one
// write(2), on one goroutine per core. No framing work, no queue, no
// backpressure: the machine's ceiling of one write per socket per message.
//
// It has no echo and no churn: after the handshake it never reads, so it
// neither answers frames nor notices a client leave (its descriptors stay
// open until it exits). The bench gives it hold and fanout rows only.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"
	"syscall"

	"github.com/c1mhq/c1m/bench/peers/internal/peer"
)

const response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n" // the load generator's fixed key

func main() {
	addr, api := peer.Flags()
	var mu sync.Mutex
	var fds []int
	hub := peer.NewHub()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				var head []byte
				for !bytes.Contains(head, []byte("\r\n\r\n")) {
					n, err := c.Read(buf)
					if err != nil {
						c.Close()
						return
					}
					head = append(head, buf[:n]...)
				}
				f, err := c.(*net.TCPConn).File() // a blocking duplicate of the socket
				c.Close()
				if err != nil {
					return
				}
				fd := int(f.Fd())
				if _, err := syscall.Write(fd, []byte(response)); err != nil {
					return
				}
				mu.Lock()
				fds = append(fds, fd)
				keep = append(keep, f) // the fd stays open while f is reachable
				mu.Unlock()
				hub.Conns.Add(1)
			}()
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		frame := appendFrame(make([]byte, 0, len(data)+maxHeader), data)
		mu.Lock()
		all := fds
		mu.Unlock()
		var wg sync.WaitGroup
		workers := runtime.NumCPU()
		for k := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := k; i < len(all); i += workers {
					_, _ = syscall.Write(all[i], frame)
				}
			}()
		}
		wg.Wait()
		_ = json.NewEncoder(w).Encode(map[string]int{"subscribers": len(all)})
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"connections": hub.Conns.Load()})
	})
	log.Fatal(http.ListenAndServe(api, mux))
}

// maxHeader is the largest server frame header: 2 bytes and a 64-bit
// length (servers do not mask).
const maxHeader = 10

// appendFrame appends an unmasked binary frame holding p, with the length
// encoded as RFC 6455 5.2 requires: 7 bits up to 125, else 126 and 16
// bits up to 65,535, else 127 and 64 bits.
func appendFrame(dst, p []byte) []byte {
	dst = append(dst, 0x82)
	switch n := len(p); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
	return append(dst, p...)
}

// keep holds the duplicated files so their descriptors are not closed by
// finalizers.
var keep []any
