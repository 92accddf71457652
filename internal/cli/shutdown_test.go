package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shutdownChild is the process TestSecondInterruptStops signals: it waits
// for its first interrupt, then "shuts down" for longer than the test
// waits.
func shutdownChild() {
	ctx, stop := shutdownContext(context.Background(), nil)
	defer stop()
	fmt.Println("ready")
	<-ctx.Done()
	fmt.Println("shutting down")
	time.Sleep(20 * time.Second)
	os.Exit(0)
}

// The first Ctrl-C starts a graceful shutdown; a second one ends the
// process at once (it used to be swallowed until the shutdown finished).
func TestSecondInterruptStops(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "SIGIL_TEST_SHUTDOWN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck
	lines := bufio.NewScanner(out)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || strings.TrimSpace(lines.Text()) != want {
			t.Fatalf("child printed %q, want %q", lines.Text(), want)
		}
	}
	expect("ready")
	cmd.Process.Signal(os.Interrupt) //nolint:errcheck
	expect("shutting down")
	// The handler is restored just after the context is done.
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(os.Interrupt) //nolint:errcheck
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT || time.Since(start) > 5*time.Second {
		t.Fatalf("after a second interrupt: %v after %v, want death by SIGINT at once", err, time.Since(start))
	}
}
