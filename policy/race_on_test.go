//go:build race

package policy_test

// raceDetector reports a -race build, which slows cel-go about tenfold.
const raceDetector = true
