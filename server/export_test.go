package server

// SetDrainHook lets tests see each drain batch (see Server.drainHook). Call
// it before Start.
func SetDrainHook(s *Server, fn func(shard, batch, closed int)) { s.drainHook = fn }

// DrainSteps is the number of drain batches per shard.
const DrainSteps = drainSteps

// EngineStopGrace is the least time Shutdown gives the engine to stop.
const EngineStopGrace = engineStopGrace
