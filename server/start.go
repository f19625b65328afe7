package server

// The phases of a Server's one run (Server.phase).
const (
	phaseNew int32 = iota
	phaseStarted
	phaseShutEarly // Shutdown came before Start or Serve
)

// begin moves a new server to phaseStarted, or says why it cannot run:
// it ran already, or it was shut down before it started. Safe for
// concurrent use.
func (s *Server) begin() error {
	if s.phase.CompareAndSwap(phaseNew, phaseStarted) {
		return nil
	}
	if s.phase.Load() == phaseShutEarly {
		return ErrServerClosed
	}
	return ErrAlreadyStarted
}
