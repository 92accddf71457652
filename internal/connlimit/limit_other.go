//go:build !unix

package connlimit

func openFileLimit() int { return 0 }
