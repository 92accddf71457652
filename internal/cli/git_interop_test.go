package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/proto"

	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/internal/oracle"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/server/servertest"
	"sigil.dev/sigil/trust"
)

// gitsignEnv points gitsign (sigstore/gitsign internal/config/config.go)
// at the fake services and their keys, with a token it accepts (gitsign
// parses the token's JWS, so it must be signed; the fake CA does not check
// by whom).
func gitsignEnv(t *testing.T, r *gitRepo, mode string) []string {
	t.Helper()
	p := r.f.PKI
	write := func(name string, b []byte) string {
		path := filepath.Join(r.home, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	roots := write("fulcio.pem", append(testpki.PEM(p.Intermediate), testpki.PEM(p.Root)...))
	rekorKey := write("rekor.pub", testpki.PublicKeyPEM(p.RekorV1.Key.Public()))
	ctKey := write("ct.pub", testpki.PublicKeyPEM(p.CTKey.Public()))
	return []string{
		"GITSIGN_FULCIO_URL=" + r.f.URL, "GITSIGN_REKOR_URL=" + r.f.URL, "GITSIGN_FULCIO_ROOT=" + roots,
		"SIGSTORE_REKOR_PUBLIC_KEY=" + rekorKey, "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE=" + ctKey,
		"GITSIGN_REKOR_MODE=" + mode, "TUF_ROOT=" + filepath.Join(r.home, "sigstore-tuf"),
		"SIGSTORE_ID_TOKEN=" + signedToken(t, "alice@sigil.test"), "GITSIGN_LOG=" + filepath.Join(r.home, "gitsign.log"),
	}
}

func signedToken(t *testing.T, email string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := json.Marshal(map[string]any{"iss": fakesvc.Issuer, "aud": "sigstore", "sub": email, "email": email, "email_verified": true,
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()})
	jws, err := s.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// gitsign verifies what sigil signs, in both log modes.
func TestGitsignVerifiesSigil(t *testing.T) {
	gitsign := oracle.Find(t, "gitsign", ".ci/install-gitsign.sh")
	for _, mode := range []string{"offline", "online"} {
		t.Run(mode, func(t *testing.T) {
			f := fakesvc.New(t)
			r := newGitRepo(t, f)
			r.setup("--rekor-mode", mode)
			r.ok("git", "commit", "-q", "--allow-empty", "-m", "signed by sigil")
			r.ok("git", "tag", "-a", "v1", "-m", "tagged by sigil")
			env := gitsignEnv(t, r, mode)
			code, out, errOut := r.run(env, gitsign, "verify", "--certificate-identity", "alice@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer, "HEAD")
			if code != 0 || !strings.Contains(out+errOut, "Validated Git signature: true") {
				t.Fatalf("gitsign verify: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = r.run(env, gitsign, "verify-tag", "--certificate-identity", "alice@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer, "v1")
			if code != 0 {
				t.Fatalf("gitsign verify-tag: exit %d\n%s%s", code, out, errOut)
			}
			// git verify-commit with gitsign as the program.
			code, out, errOut = r.run(env, "git", "-c", "gpg.x509.program="+gitsign, "verify-commit", "HEAD")
			if code != 0 {
				t.Fatalf("git verify-commit with gitsign: exit %d\n%s%s", code, out, errOut)
			}
			// And gitsign refuses another identity.
			code, out, errOut = r.run(env, gitsign, "verify", "--certificate-identity", "bob@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer, "HEAD")
			if code == 0 {
				t.Fatalf("gitsign accepted another identity:\n%s%s", out, errOut)
			}
		})
	}
}

// sigil verifies what gitsign signs, in both log modes.
func TestSigilVerifiesGitsign(t *testing.T) {
	gitsign := oracle.Find(t, "gitsign", ".ci/install-gitsign.sh")
	for _, mode := range []string{"offline", "online"} {
		t.Run(mode, func(t *testing.T) {
			f := fakesvc.New(t)
			r := newGitRepo(t, f)
			r.setup("--rekor-mode", mode, "--certificate-identity", "alice@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer)
			env := gitsignEnv(t, r, mode)
			gs := append([]string{"-c", "gpg.x509.program=" + gitsign}, "commit", "-q", "--allow-empty", "-m", "signed by gitsign")
			if code, out, errOut := r.run(env, "git", gs...); code != 0 {
				log, _ := os.ReadFile(filepath.Join(r.home, "gitsign.log"))
				t.Fatalf("gitsign commit: exit %d\n%s%s\n%s", code, out, errOut, log)
			}
			if code, out, errOut := r.run(env, "git", "-c", "gpg.x509.program="+gitsign, "tag", "-a", "v1", "-m", "tagged by gitsign"); code != 0 {
				t.Fatalf("gitsign tag: exit %d\n%s%s", code, out, errOut)
			}
			for _, args := range [][]string{
				append([]string{"git", "verify"}, aliceID...),
				append([]string{"git", "verify", "v1"}, aliceID...),
			} {
				if out := r.ok("sigil", args...); !strings.Contains(out, "Verified OK") {
					t.Fatalf("sigil %v:\n%s", args, out)
				}
			}
			if out := r.ok("git", "verify-commit", "HEAD"); !strings.Contains(out, "Good signature from alice@sigil.test") {
				t.Fatalf("git verify-commit with sigil:\n%s", out)
			}
			r.fails(nil, `got "alice@sigil.test", want "bob@sigil.test"`, "sigil", "git", "verify", "--certificate-identity", "bob@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer)
		})
	}
}

// gitsign verifies what sigil signs against a real `sigil server` with
// sigil's defaults: services from the signing config (which lists Rekor v1
// and v2 logs and a TSA), as `sigil git setup` without URLs configures.
// gitsign reads Rekor v1 entries only and fails on an RFC 3161 timestamp,
// so sigil must pick the v1 log and leave the timestamp out.
func TestGitsignVerifiesSigilServer(t *testing.T) {
	gitsign := oracle.Find(t, "gitsign", ".ci/install-gitsign.sh")
	srv := servertest.Start(t, "", "")
	r := newGitRepo(t, fakesvc.New(t))
	r.f, r.url = nil, srv.PublicURL()
	r.env = append(r.env, "SIGSTORE_ID_TOKEN="+srv.Token(t), "GIT_AUTHOR_EMAIL=dev@sigil.test", "GIT_COMMITTER_EMAIL=dev@sigil.test")
	r.ok("sigil", "git", "setup", "--program", r.sigil, "--trusted-root", srv.TrustedRootFile, "--signing-config", srv.SigningConfigFile)
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "signed by sigil, defaults")
	sig := r.signature("HEAD")
	var entry protorekor.TransparencyLogEntry
	if len(sig.LogEntries) != 1 || proto.Unmarshal(sig.LogEntries[0], &entry) != nil || entry.GetKindVersion().GetVersion() != "0.0.1" || len(sig.Timestamps) != 0 {
		t.Fatalf("want one Rekor v1 entry (hashedrekord 0.0.1) and no timestamp, got %d entries (%v) and %d timestamps", len(sig.LogEntries), entry.GetKindVersion(), len(sig.Timestamps))
	}

	raw, err := os.ReadFile(srv.TrustedRootFile)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trust.ParseTrustedRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		path := filepath.Join(r.home, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var chain []byte
	for _, c := range tr.CAs[0].Intermediates {
		chain = append(chain, testpki.PEM(c)...)
	}
	chain = append(chain, testpki.PEM(tr.CAs[0].Root)...)
	var rekorKey, ctKey []byte
	for _, l := range tr.TLogs {
		if _, ecdsaKey := l.PublicKey.(*ecdsa.PublicKey); ecdsaKey { // the v1 log; v2's key is Ed25519
			rekorKey = testpki.PublicKeyPEM(l.PublicKey)
		}
	}
	for _, l := range tr.CTLogs {
		ctKey = testpki.PublicKeyPEM(l.PublicKey)
	}
	if rekorKey == nil || ctKey == nil {
		t.Fatal("no Rekor v1 or CT log key in the trusted root")
	}
	env := []string{
		"GITSIGN_FULCIO_URL=" + srv.PublicURL(), "GITSIGN_REKOR_URL=" + srv.PublicURL(), "GITSIGN_FULCIO_ROOT=" + write("fulcio.pem", chain),
		"SIGSTORE_REKOR_PUBLIC_KEY=" + write("rekor.pub", rekorKey), "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE=" + write("ct.pub", ctKey),
		"GITSIGN_REKOR_MODE=offline", "TUF_ROOT=" + filepath.Join(r.home, "sigstore-tuf"), "GITSIGN_LOG=" + filepath.Join(r.home, "gitsign.log"),
	}
	code, out, errOut := r.run(env, gitsign, "verify", "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", srv.DevIssuerURL(), "HEAD")
	if code != 0 || !strings.Contains(out+errOut, "Validated Git signature: true") {
		t.Fatalf("gitsign verify: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := r.run(env, gitsign, "verify", "--certificate-identity", "eve@sigil.test", "--certificate-oidc-issuer", srv.DevIssuerURL(), "HEAD"); code == 0 {
		t.Fatalf("gitsign accepted another identity:\n%s%s", out, errOut)
	}
	// An explicit --timestamp-server-url still adds a timestamp.
	r.ok("git", "config", "sigil.timestampServerURL", srv.PublicURL()+"/api/v1/timestamp")
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "timestamped")
	if n := len(r.signature("HEAD").Timestamps); n != 1 {
		t.Fatalf("with sigil.timestampServerURL: %d timestamps", n)
	}
	if out := r.ok("sigil", "git", "verify", "HEAD", "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", srv.DevIssuerURL()); !strings.Contains(out, "Verified OK") {
		t.Fatalf("sigil git verify:\n%s", out)
	}
}
