package gitsign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"sigil.dev/sigil/verify"
)

// Program is git's x509 signing program (gpg.format=x509,
// gpg.x509.program). git runs it as (git/git gpg-interface.c):
//
//	<program> --status-fd=2 -bsau <signing key>          payload on stdin, signature to stdout
//	<program> --status-fd=1 --verify <signature file> -  payload on stdin, status to stdout
//
// It accepts the gpg options gitsign accepts (sigstore/gitsign
// internal/commands/root/root.go): -s/--sign, -b/--detach-sign
// (--detached-sign), -a/--armor, -u/--local-user USER (ignored: the
// identity comes from the OIDC token), --status-fd N (1 standard output,
// 2 standard error, else that descriptor), --verify, --include-certs N and
// --keyid-format F (ignored), bundled short options (-bsau KEY) and "--".
type Program struct {
	// Name prefixes the messages on standard error.
	Name string
	// Stdin, Stdout and Stderr are the process's streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Signer and Verifier build the configured signer and verifier (so
	// that configuration is read only for the operation asked).
	Signer   func() (*Signer, error)
	Verifier func() (*Verifier, error)
	// OpenFD opens a status descriptor other than 1 and 2; default
	// os.NewFile.
	OpenFD func(fd int) io.Writer
	// Alert, if set, also receives why signing failed: git (before 2.41)
	// swallows the program's standard error when signing fails, so the
	// user would see only "gpg failed to sign the data". The terminal git
	// runs in is a good choice.
	Alert io.Writer
	// Log, if set, receives every message, with the time (a debugging
	// log: there is no terminal under some git front ends).
	Log io.Writer
}

// Exit statuses, as gpg's: 0 success, 1 bad signature or failure to sign,
// 2 usage errors.
const (
	exitOK    = 0
	exitBad   = 1
	exitUsage = 2
)

type gpgArgs struct {
	sign, detach, armor, verify bool
	statusFD                    int
	localUser                   string
	rest                        []string
}

// IsGPGInvocation reports whether args look like git calling its signing
// program (gpg-style options), rather than a command line of subcommands.
func IsGPGInvocation(args []string) bool {
	if len(args) == 0 {
		return false
	}
	a := args[0]
	switch {
	case strings.HasPrefix(a, "--status-fd"), a == "--verify", a == "--sign", a == "--detach-sign", a == "--detached-sign",
		a == "--armor", a == "--local-user", strings.HasPrefix(a, "--keyid-format"), strings.HasPrefix(a, "--include-certs"):
		return true
	case len(a) > 1 && a[0] == '-' && a[1] != '-':
		// Bundled short gpg options such as -bsau.
		return strings.Trim(a[1:], "bsauv") == "" && a != "-v"
	}
	return false
}

func parseGPGArgs(args []string) (*gpgArgs, error) {
	g := &gpgArgs{statusFD: -1}
	intArg := func(name, v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("%s wants a number, not %q", name, v)
		}
		return n, nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		name, val, hasVal := strings.Cut(a, "=")
		switch {
		case a == "--":
			g.rest = append(g.rest, args[i+1:]...)
			return g, nil
		case name == "--status-fd":
			if !hasVal {
				var err error
				if val, err = next(); err != nil {
					return nil, err
				}
			}
			n, err := intArg(name, val)
			if err != nil {
				return nil, err
			}
			g.statusFD = n
		case name == "--include-certs", name == "--keyid-format":
			if !hasVal {
				if _, err := next(); err != nil {
					return nil, err
				}
			}
		case name == "--local-user":
			if !hasVal {
				var err error
				if val, err = next(); err != nil {
					return nil, err
				}
			}
			g.localUser = val
		case a == "--sign":
			g.sign = true
		case a == "--detach-sign", a == "--detached-sign":
			g.detach = true
		case a == "--armor":
			g.armor = true
		case a == "--verify":
			g.verify = true
		case len(a) > 1 && a[0] == '-' && a[1] != '-':
			for j := 1; j < len(a); j++ {
				switch a[j] {
				case 's':
					g.sign = true
				case 'b':
					g.detach = true
				case 'a':
					g.armor = true
				case 'v':
					g.verify = true
				case 'u':
					if j+1 < len(a) {
						g.localUser = a[j+1:]
					} else {
						v, err := next()
						if err != nil {
							return nil, err
						}
						g.localUser = v
					}
					j = len(a)
				default:
					return nil, fmt.Errorf("unknown option -%c", a[j])
				}
			}
		case strings.HasPrefix(a, "-") && a != "-":
			return nil, fmt.Errorf("unknown option %s", a)
		default:
			g.rest = append(g.rest, a)
		}
	}
	return g, nil
}

// Run runs the program with args (without the program name) and returns
// the exit status.
func (p *Program) Run(ctx context.Context, args []string) int {
	g, err := parseGPGArgs(args)
	if err != nil {
		p.say("%v (git runs %s as --status-fd=2 -bsau KEY, or --status-fd=1 --verify SIGFILE -)", err, p.Name)
		return exitUsage
	}
	status := NewStatus(p.statusWriter(g.statusFD))
	switch {
	case g.verify && (g.sign || g.detach):
		p.say("give --verify or --sign, not both")
		return exitUsage
	case g.verify:
		return p.runVerify(ctx, g, status)
	case g.sign || g.detach:
		return p.runSign(ctx, g, status)
	}
	p.say("nothing to do: give --sign (-bsau KEY) or --verify SIGFILE -")
	return exitUsage
}

func (p *Program) say(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(p.Stderr, "%s: %s\n", p.Name, msg)
	if p.Log != nil {
		fmt.Fprintf(p.Log, "%s %s: %s\n", time.Now().UTC().Format(time.RFC3339), p.Name, msg)
	}
}

// Warn reports a problem that did not stop signing (a credential cache
// that cannot be used, say): to Stderr and Log as say does, and to Alert,
// since git before 2.41 hides the program's stderr.
func (p *Program) Warn(msg string) {
	p.say("%s", msg)
	if p.Alert != nil {
		fmt.Fprintf(p.Alert, "%s: %s\n", p.Name, msg)
	}
}

// fail reports why signing failed, also to Alert.
func (p *Program) fail(format string, args ...any) int {
	p.say(format, args...)
	if p.Alert != nil {
		fmt.Fprintf(p.Alert, "%s: %s\n", p.Name, fmt.Sprintf(format, args...))
	}
	return exitBad
}

func (p *Program) statusWriter(fd int) io.Writer {
	switch fd {
	case -1:
		return nil
	case 1:
		return p.Stdout
	case 2:
		return p.Stderr
	}
	if p.OpenFD != nil {
		return p.OpenFD(fd)
	}
	if fd < 0 {
		return nil
	}
	return os.NewFile(uintptr(fd), "status")
}

func (p *Program) runSign(ctx context.Context, g *gpgArgs, status *Status) int {
	if !g.detach {
		p.say("only detached signatures (-b) are supported, as git asks for")
		return exitUsage
	}
	// git looks for "\n[GNUPG:] SIG_CREATED ", so a line must come first.
	status.BeginSigning()
	var in io.Reader = p.Stdin
	switch len(g.rest) {
	case 0:
	case 1:
		f, err := os.Open(g.rest[0])
		if err != nil {
			return p.fail("couldn't open the file to sign: %v", err)
		}
		defer f.Close()
		in = f
	default:
		p.say("sign one input (a file, or standard input)")
		return exitUsage
	}
	payload, err := io.ReadAll(io.LimitReader(in, maxPayload+1))
	if err != nil {
		return p.fail("couldn't read what to sign: %v", err)
	}
	if len(payload) > maxPayload {
		return p.fail("couldn't sign: the content is over %d bytes", maxPayload)
	}
	s, err := p.Signer()
	if err != nil {
		return p.fail("couldn't sign: %v", err)
	}
	res, err := s.Sign(ctx, payload)
	if err != nil {
		return p.fail("couldn't sign: %v", err)
	}
	if _, err := p.Stdout.Write(res.PEM); err != nil {
		return p.fail("couldn't write the signature: %v", err)
	}
	for _, e := range res.LogEntries {
		p.say("signed as %s; logged in %s at index %d", res.Identity, e.LogURL, e.LogIndex)
	}
	status.SigCreated(res.Certificate, time.Now())
	return exitOK
}

// maxPayload bounds a commit or tag to sign or verify.
const maxPayload = 256 << 20

func (p *Program) runVerify(ctx context.Context, g *gpgArgs, status *Status) int {
	status.NewSig()
	if len(g.rest) != 2 {
		status.ErrSig(4)
		p.say("verify wants a detached signature file and the signed data (\"-\" for standard input); attached signatures are not supported")
		return exitUsage
	}
	sig, err := readLimited(g.rest[0], nil, maxSignatureSize)
	if err != nil {
		status.ErrSig(4)
		p.say("couldn't read the signature: %v", err)
		return exitBad
	}
	payload, err := readLimited(g.rest[1], p.Stdin, maxPayload)
	if err != nil {
		status.ErrSig(4)
		p.say("couldn't read the signed data: %v", err)
		return exitBad
	}
	v, err := p.Verifier()
	if err != nil {
		status.ErrSig(4)
		p.say("couldn't verify: %v", err)
		return exitBad
	}
	res, err := v.Verify(ctx, payload, sig)
	if err != nil {
		switch {
		case res == nil || res.Certificate == nil || cannotCheck(err):
			status.ErrSig(4)
			p.say("couldn't check the signature: %v", err)
		default:
			status.BadSig(res.Certificate, res.Identity)
			p.say("BAD signature from %s: %v", res.Identity, err)
		}
		return exitBad
	}
	trust := TrustUndefined
	if res.IdentityChecked {
		trust = TrustFully
	}
	status.GoodSig(res.Certificate, res.Identity, res.Time, trust)
	p.describe(res)
	return exitOK
}

// cannotCheck reports a verification that could not reach a verdict on
// the signature itself: no log entry could be found (a log that was down,
// or none to search), or its log is not one the trusted root lists. git
// shows these as "can't check" (ERRSIG, %G? E), not as a BAD signature,
// which reads as tampering. Either way verification fails.
func cannotCheck(err error) bool {
	return errors.Is(err, ErrNoLogEntry) || verify.CheckOf(err) == verify.CheckTrustedRoot
}

// describe writes what git shows under the signature (git verify-commit,
// git log --show-signature).
func (p *Program) describe(res *Result) {
	p.say("Good signature from %s (issuer %s)", res.Identity, res.Issuer)
	if res.Verified != nil {
		for _, e := range res.Verified.TlogEntries {
			how := "entry in the signature"
			if res.Online {
				how = "entry found by search for " + res.ObjectID
			}
			p.say("logged in %s at index %d (%s)", e.LogURL, e.LogIndex, how)
		}
		for _, t := range res.Verified.VerifiedTimestamps {
			p.say("signed at %s (%s %s)", t.Timestamp.UTC().Format(time.RFC3339), timeSource(t), t.URI)
		}
	}
	if !res.IdentityChecked {
		p.say("the signer's identity was not checked against a policy: set sigil.certificateIdentity and sigil.certificateOIDCIssuer (git config), or run `sigil git verify` with --certificate-identity and --certificate-oidc-issuer")
	}
}

func timeSource(t verify.VerifiedTime) string {
	if t.Type == "TimestampAuthority" {
		return "timestamp authority"
	}
	return "transparency log"
}

func readLimited(path string, stdin io.Reader, limit int64) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		if stdin == nil {
			return nil, errors.New("standard input is taken")
		}
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("over %d bytes", limit)
	}
	return b, nil
}
