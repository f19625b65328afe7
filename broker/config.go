package broker

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c1mhq/c1m/session"
)

// Config is how a node reaches NATS and what the cluster's streams keep.
// Its zero value needs only URL.
type Config struct {
	// URL is the NATS server, or a comma-separated list of them.
	URL string
	// NodeID names the node in the cluster views and in NATS (the
	// connection's name). Empty means the host name and the process id.
	NodeID string

	// Credentials is a NATS credentials file (JWT and seed). User and
	// Password, or Token, are the other ways to log in; empty: none.
	Credentials    string
	User, Password string
	Token          string
	// CAFile is the PEM file of the certificate authorities the NATS
	// server's certificate is checked against (TLS); CertFile and KeyFile
	// are the node's client certificate. Empty: the system's roots, no
	// client certificate. A tls:// URL or any of these turns TLS on
	// (nats.go's RootCAs, ClientCert).
	CAFile, CertFile, KeyFile string

	// Optional lets Start succeed while NATS cannot be reached: the node
	// starts degraded (publications refused) and links up when NATS comes.
	// False refuses to start without NATS.
	Optional bool

	// Prefix starts every subject the cluster uses, and, in upper case,
	// the names of its streams. Empty means "c1m". Clusters that share a
	// NATS account need distinct prefixes.
	Prefix string
	// History is the history of the node's hub (session.HistoryConfig):
	// the history stream keeps, per topic, the largest count of its rules
	// (at least 1) and, when every rule has a TTL, the longest TTL; each
	// node applies the rules themselves to what it keeps.
	History session.HistoryConfig
	// MaxBytes caps each stream. Zero means 1 GiB; negative: no cap.
	MaxBytes int64
	// Memory keeps the streams in memory rather than on disk: faster,
	// lost when NATS restarts (which nodes then see as history lost).
	Memory bool

	// PublishTimeout is how long Publish waits for the stream's answer.
	// Zero means 2s.
	PublishTimeout time.Duration
	// RequestTimeout is how long a cross-node send or a cluster view waits
	// for answers. Zero means 1s.
	RequestTimeout time.Duration
	// CatchUpTimeout is how long Start waits to read the history stream
	// to its end before the node serves clients. Zero means 30s.
	CatchUpTimeout time.Duration

	// OnLost is called once when the node's view of the cluster can no
	// longer be trusted (ErrHistoryLost); the binary drains and exits, so
	// that clients reconnect and are reset. Nil: logged only.
	OnLost func(error)
}

// Defaults.
const (
	DefaultPrefix         = "c1m"
	DefaultMaxBytes       = 1 << 30
	DefaultPublishTimeout = 2 * time.Second
	DefaultRequestTimeout = time.Second
	DefaultCatchUpTimeout = 30 * time.Second
)

// reconnectWait is the pause between attempts to reach NATS again; with
// jitter, a cluster's nodes do not all come back in the same instant.
const (
	reconnectWait   = 250 * time.Millisecond
	reconnectJitter = 250 * time.Millisecond
)

// withDefaults returns a copy of c with its defaults filled in.
func (c Config) withDefaults() Config {
	if c.NodeID == "" {
		c.NodeID = DefaultNodeID()
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	switch {
	case c.MaxBytes == 0:
		c.MaxBytes = DefaultMaxBytes
	case c.MaxBytes < 0:
		c.MaxBytes = -1
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.CatchUpTimeout <= 0 {
		c.CatchUpTimeout = DefaultCatchUpTimeout
	}
	return c
}

// DefaultNodeID is the host name and the process id, "host-1234". Safe for
// concurrent use.
func DefaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "c1m"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// options are the nats.go options of c.
func (c *Config) options() []nats.Option {
	opts := []nats.Option{
		nats.Name("c1m " + c.NodeID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitter),
		// No buffering while disconnected: a publication made then fails
		// at once (503) instead of leaving later, after its publisher was
		// told it failed.
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(c.Optional),
	}
	if c.Credentials != "" {
		opts = append(opts, nats.UserCredentials(c.Credentials))
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" || c.KeyFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	return opts
}

// streams returns the configurations of the sequencer and history
// streams.
func (c *Config) streams() (seq, hist jetstream.StreamConfig) {
	storage := jetstream.FileStorage
	if c.Memory {
		storage = jetstream.MemoryStorage
	}
	name := strings.ToUpper(c.Prefix)
	seq = jetstream.StreamConfig{
		Name:        name,
		Description: "c1m sequencer: the last publication of each topic; its sequence is the offset",
		Subjects:    []string{c.Prefix + ".p.>"},
		Storage:     storage,
		// The last message of each topic stays, so that the republished
		// copy of the next one names its predecessor (Nats-Last-Sequence).
		MaxMsgsPerSubject: 1,
		MaxBytes:          c.MaxBytes,
		Discard:           jetstream.DiscardOld,
		RePublish:         &jetstream.RePublish{Source: c.Prefix + ".p.>", Destination: c.Prefix + ".h.>"},
	}
	size, ttl := 1, time.Duration(0)
	allTTL := true
	rules := append([]session.HistoryRule{{Size: c.History.Size, TTL: c.History.TTL}}, c.History.Rules...)
	for _, r := range rules {
		size = max(size, r.Size)
		if r.TTL <= 0 {
			allTTL = false
		}
		ttl = max(ttl, r.TTL)
	}
	if !allTTL {
		ttl = 0
	}
	hist = jetstream.StreamConfig{
		Name:              name + "_H",
		Description:       "c1m history: recent publications of each topic, with their offset and predecessor",
		Subjects:          []string{c.Prefix + ".h.>"},
		Storage:           storage,
		MaxMsgsPerSubject: int64(size),
		MaxAge:            ttl,
		MaxBytes:          c.MaxBytes,
		Discard:           jetstream.DiscardOld,
	}
	return seq, hist
}
