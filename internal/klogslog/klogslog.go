// Package klogslog routes klog's output, through which Tessera logs, to a
// slog logger that can change while the process runs.
//
// klog's logger is a plain global that Tessera's goroutines read at every
// log call. Setting it again while an earlier service's goroutines still
// run is a data race (tests start several servers, logs and CT logs in
// one process), so it is set once, to a handler that follows whatever
// logger Route was last given.
package klogslog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"
)

var (
	current atomic.Pointer[slog.Logger]
	install sync.Once
)

// Route sends klog's output to logger from now on.
func Route(logger *slog.Logger) {
	current.Store(logger)
	install.Do(func() { klog.SetSlogLogger(slog.New(followHandler{})) })
}

// followHandler is a slog.Handler that hands each record to the current
// logger's handler, with the attributes and groups it was derived with
// applied.
type followHandler struct {
	derive func(slog.Handler) slog.Handler
}

func (h followHandler) handler() slog.Handler {
	l := current.Load()
	if l == nil {
		l = slog.Default()
	}
	if h.derive != nil {
		return h.derive(l.Handler())
	}
	return l.Handler()
}

func (h followHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.handler().Enabled(ctx, l)
}

func (h followHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.handler().Handle(ctx, r)
}

func (h followHandler) WithAttrs(as []slog.Attr) slog.Handler {
	prev := h.derive
	return followHandler{func(b slog.Handler) slog.Handler {
		if prev != nil {
			b = prev(b)
		}
		return b.WithAttrs(as)
	}}
}

func (h followHandler) WithGroup(name string) slog.Handler {
	prev := h.derive
	return followHandler{func(b slog.Handler) slog.Handler {
		if prev != nil {
			b = prev(b)
		}
		return b.WithGroup(name)
	}}
}
