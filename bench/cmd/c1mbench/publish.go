package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// publishing is how a server takes a publication over HTTP.
type publishing struct {
	// path is the endpoint on the API listener. Raw style: it ends with
	// "topic=" and the topic follows; the body is the payload.
	path string
	// json: Centrifugo's API, {"channel":TOPIC,"data":PAYLOAD} (the
	// payload is the text form, a JSON string), with key in X-API-Key.
	json bool
	key  string
}

func (p publishing) request(api, topic string, payload []byte) (*http.Request, error) {
	if !p.json {
		req, err := http.NewRequest(http.MethodPost, "http://"+api+p.path+url.QueryEscape(topic), bytes.NewReader(payload))
		if req != nil {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
		return req, err
	}
	body, err := json.Marshal(struct {
		Channel string `json:"channel"`
		Data    string `json:"data"`
	}{topic, string(payload)})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+api+p.path, bytes.NewReader(body))
	if req != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", p.key)
	}
	return req, err
}

// maxReplyBytes bounds the part of a publish reply the publisher reads
// for an error.
const maxReplyBytes = 4 << 10

// publisher posts publications to a server's HTTP API over a kept-alive
// connection.
type publisher struct {
	api     string
	pub     publishing
	client  *http.Client
	payload []byte
}

func newPublisher(t target, size int, timeout time.Duration) *publisher {
	return &publisher{
		api: t.api, pub: t.publish, client: &http.Client{Timeout: timeout},
		payload: make([]byte, max(size, minText)),
	}
}

// post publishes sequence number seq to topic and returns when it was
// sent.
func (p *publisher) post(topic string, seq uint64, kind byte) (time.Time, error) {
	at := encodeText(p.payload, seq, kind)
	req, err := p.pub.request(p.api, topic, p.payload)
	if err != nil {
		return at, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return at, err
	}
	// Read the body to its end so the transport reuses the connection: a
	// new TCP connection per publication would be timed too.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return at, fmt.Errorf("publish: %s", resp.Status)
	}
	// Centrifugo answers API errors with 200 and an error object.
	if _, ok := jsonField(body, "error"); ok && p.pub.json {
		return at, fmt.Errorf("publish: %.200s", body)
	}
	return at, nil
}
