package main

import (
	"github.com/c1mhq/c1m/server"
	"github.com/c1mhq/c1m/socketio"
)

// socketIO returns the Socket.IO server of the binary and its Engine.IO
// configuration, or nils with -socketio=false: namespace "/" serves
// socketio.ServePush's events (subscribe, unsubscribe, publish when
// -demo-publish allows it) at -command-rate and -publish-rate, with the
// connection tokens and topic policy of the other transports, refusals
// counted with push's and, with -socketio-recovery, connection state
// recovery over the topics' history.
func socketIO(o *options, pc *server.PushConfig, push *server.Push) (*socketio.Server, *server.EngineConfig) {
	if !o.socketIO {
		return nil, nil
	}
	cfg := &socketio.Config{Tokens: pc.Tokens, TokenRequired: pc.TokenRequired, Policy: pc.Policy, MaxRooms: o.maxTopics,
		Denied: push.CountDenial}
	if o.socketIORecovery && o.history > 0 {
		cfg.Recovery = &socketio.RecoveryConfig{Window: o.historyTTL}
	}
	sio := socketio.New(cfg)
	socketio.ServePush(sio.Of("/"), &socketio.PushConfig{
		ClientPublish: o.demoPublish, EventRate: o.commandRate, EventBurst: o.commandBurst,
		PublishRate: o.publishRate, PublishBurst: o.publishBurst,
	})
	return sio, sio.EngineConfig(&server.EngineConfig{Path: o.socketIOPath})
}
