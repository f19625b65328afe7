package server

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// gnetLogger routes gnet's own logging into slog, so that the engine writes
// nothing to stdout and its messages share the program's log format. gnet's
// info-level chatter (the launch banner) goes to debug. Its last errors are
// kept in errs: gnet says why its engine stopped by itself (an accept that
// failed with EMFILE, then the shutdown it caused) only to its logger.
type gnetLogger struct {
	log  *slog.Logger
	errs *gnetErrors
}

func (l gnetLogger) Debugf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l gnetLogger) Infof(format string, args ...any)  { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l gnetLogger) Warnf(format string, args ...any)  { l.log.Warn(fmt.Sprintf(format, args...)) }
func (l gnetLogger) Errorf(format string, args ...any) { l.error(fmt.Sprintf(format, args...)) }
func (l gnetLogger) Fatalf(format string, args ...any) { l.error(fmt.Sprintf(format, args...)) }

func (l gnetLogger) error(msg string) {
	l.log.Error(msg)
	l.errs.add(msg)
}

// gnetErrorsKept is how many of gnet's last error messages a server keeps:
// the cause and the shutdown it led to.
const gnetErrorsKept = 4

// gnetErrors are the last error messages gnet logged. Safe for concurrent
// use.
type gnetErrors struct {
	mu   sync.Mutex
	msgs []string // oldest first, at most gnetErrorsKept
}

func (e *gnetErrors) add(msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.msgs) == gnetErrorsKept {
		e.msgs = append(e.msgs[:0], e.msgs[1:]...)
	}
	e.msgs = append(e.msgs, msg)
}

// String returns the kept messages, oldest first, or "" when there is none.
func (e *gnetErrors) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.msgs, "; ")
}
