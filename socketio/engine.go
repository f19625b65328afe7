package socketio

import "github.com/c1mhq/c1m/server"

// EngineConfig returns the Engine.IO configuration that serves s: cfg's
// settings (nil: defaults) with s as the Handler and s.EncodePublication
// as the Publication encoder. cfg is copied. Safe for concurrent use.
func (s *Server) EngineConfig(cfg *server.EngineConfig) *server.EngineConfig {
	var out server.EngineConfig
	if cfg != nil {
		out = *cfg
	}
	out.Handler = s
	out.Publication = s.EncodePublication
	return &out
}
