// Command ceiling is not a server to choose but the yardstick of fan-out:
// it answers the WebSocket handshake with a fixed response and, per
// publication, writes one precomputed frame to each socket with one
// write(2), on one goroutine per core. No framing work, no queue, no
// backpressure: the machine's ceiling of one write per socket per message.
package main

import (
	"bytes"
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
		frame := append([]byte{0x82, byte(len(data))}, data...) // payloads under 126 bytes
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

// keep holds the duplicated files so their descriptors are not closed by
// finalizers.
var keep []any
