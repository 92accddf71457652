package tlog

import (
	"flag"
	"io"
	"os"
	"testing"

	"k8s.io/klog/v2"
)

func TestMain(m *testing.M) {
	// Tessera logs through klog; keep test output readable.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")     //nolint:errcheck
	fs.Set("alsologtostderr", "false") //nolint:errcheck
	klog.SetOutput(io.Discard)
	if runChild() {
		return
	}
	os.Exit(m.Run())
}

// runChild runs a test helper process instead of the tests when the
// environment asks for one (see crash_test.go).
func runChild() bool { return runCrashChild() }
