package klogslog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

// TestRouteFollowsTheLastLogger: klog's output goes to the logger Route
// was last given, with no second write to klog's global.
func TestRouteFollowsTheLastLogger(t *testing.T) {
	var a, b bytes.Buffer
	Route(slog.New(slog.NewTextHandler(&a, nil)).With("who", "a"))
	klog.InfoS("first", "k", 1)
	Route(slog.New(slog.NewTextHandler(&b, nil)).With("who", "b"))
	klog.InfoS("second", "k", 2)
	if !strings.Contains(a.String(), "first") || strings.Contains(a.String(), "second") || !strings.Contains(a.String(), "who=a") {
		t.Errorf("a: %q", a.String())
	}
	if !strings.Contains(b.String(), "second") || strings.Contains(b.String(), "first") || !strings.Contains(b.String(), "who=b") {
		t.Errorf("b: %q", b.String())
	}
}
