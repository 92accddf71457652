package policy

import "time"

// SetEvalTimeout shortens EvalTimeout for a test; it returns a restore.
func SetEvalTimeout(d time.Duration) func() {
	old := evalTimeout
	evalTimeout = d
	return func() { evalTimeout = old }
}
