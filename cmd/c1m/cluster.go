package main

import (
	"flag"
	"fmt"

	"github.com/c1mhq/c1m/broker"
	"github.com/c1mhq/c1m/session"
)

// clusterOptions are the flags of a node in a cluster (-nats and its
// company); without -nats the node is alone, as before.
type clusterOptions struct {
	url, nodeID, prefix          string
	creds, user, password, token string
	caFile, certFile, keyFile    string
	optional, memory             bool
}

func (c *clusterOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "nats", "", "NATS server URL(s), comma-separated: join the cluster of the nodes on it (empty: a single node)")
	fs.BoolVar(&c.optional, "nats-optional", false, "start even when NATS cannot be reached (degraded: publications refused until it comes)")
	fs.StringVar(&c.nodeID, "node-id", "", "this node's name in logs, metrics and cluster views (empty: host name and process id)")
	fs.StringVar(&c.prefix, "nats-prefix", broker.DefaultPrefix, "prefix of the cluster's NATS subjects and (upper case) streams")
	fs.StringVar(&c.creds, "nats-creds", "", "NATS credentials file (JWT and seed)")
	fs.StringVar(&c.user, "nats-user", "", "NATS user")
	fs.StringVar(&c.password, "nats-password", "", "NATS password")
	fs.StringVar(&c.token, "nats-token", "", "NATS token")
	fs.StringVar(&c.caFile, "nats-ca", "", "PEM file of the CAs that sign the NATS server's certificate (turns TLS on)")
	fs.StringVar(&c.certFile, "nats-cert", "", "client certificate for NATS (PEM; with -nats-key)")
	fs.StringVar(&c.keyFile, "nats-key", "", "client key for NATS (PEM)")
	fs.BoolVar(&c.memory, "nats-memory", false, "keep the cluster's streams in NATS memory rather than on disk (lost when NATS restarts)")
}

// startBroker links hub to the cluster when -nats is set; nil otherwise.
// lost is called when the node must leave the cluster (history lost).
func startBroker(c *clusterOptions, nodeID string, hist session.HistoryConfig, hub *session.Hub, lost func(error)) (*broker.Broker, error) {
	if c.url == "" {
		return nil, nil
	}
	b, err := broker.Start(hub, &broker.Config{
		URL: c.url, NodeID: nodeID, Prefix: c.prefix, Optional: c.optional,
		Credentials: c.creds, User: c.user, Password: c.password, Token: c.token,
		CAFile: c.caFile, CertFile: c.certFile, KeyFile: c.keyFile,
		History: hist, Memory: c.memory, OnLost: lost,
	})
	if err != nil {
		return nil, fmt.Errorf("-nats: %w", err)
	}
	return b, nil
}
