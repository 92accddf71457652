package ctlog

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/ctonly"

	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/sct"
)

func TestAddPreChainSCTVerifiesOverFinalCertificate(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	for i := range 3 {
		pre, _ := e.leaf(t, leafOpts{precert: true})
		before := time.Now().Add(-time.Millisecond)
		s, err := e.svc.AddPreChain(ctx, e.chain(pre))
		if err != nil {
			t.Fatalf("AddPreChain: %v", err)
		}
		if s.LogID != e.svc.LogID() {
			t.Errorf("log ID %x, want %x", s.LogID, e.svc.LogID())
		}
		if s.Time().Before(before.Truncate(time.Millisecond)) || s.Time().After(time.Now()) {
			t.Errorf("SCT time %v is not the submission time", s.Time())
		}
		if idx, err := ParseLeafIndex(s.Extensions); err != nil || idx != uint64(i) {
			t.Errorf("SCT leaf index = %d, %v; want %d", idx, err, i)
		}
		if s.HashAlg != 4 || s.SigAlg != 3 {
			t.Errorf("SCT algorithms %d/%d, want SHA-256/ECDSA", s.HashAlg, s.SigAlg)
		}
		final := e.finalCert(t, pre, s)
		if err := s.Verify(e.svc.PublicKey(), final, e.pki.Intermediate.RawSubjectPublicKeyInfo); err != nil {
			t.Errorf("sct.Verify over the final certificate: %v", err)
		}
		// And not with another issuer key.
		if err := s.Verify(e.svc.PublicKey(), final, e.pki.Root.RawSubjectPublicKeyInfo); !errors.Is(err, sct.ErrSignature) {
			t.Errorf("sct.Verify with the wrong issuer = %v, want ErrSignature", err)
		}
	}
}

// TestAddIssuedPreChain: the in-process CA's entry point gives the same
// SCT as AddPreChain and applies the same policy, except that it does not
// verify the precertificate's signature again (the CA has just made it).
func TestAddIssuedPreChain(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	pre, _ := e.leaf(t, leafOpts{precert: true})
	s, err := e.svc.AddIssuedPreChain(ctx, e.chain(pre))
	if err != nil {
		t.Fatalf("AddIssuedPreChain: %v", err)
	}
	if err := s.Verify(e.svc.PublicKey(), e.finalCert(t, pre, s), e.pki.Intermediate.RawSubjectPublicKeyInfo); err != nil {
		t.Errorf("sct.Verify over the final certificate: %v", err)
	}
	badSig, _ := e.leaf(t, leafOpts{precert: true, badSignature: true})
	if _, err := e.svc.AddPreChain(ctx, e.chain(badSig)); !errors.Is(err, ErrBadChain) {
		t.Errorf("AddPreChain with a bad signature = %v, want ErrBadChain", err)
	}
	if _, err := e.svc.AddIssuedPreChain(ctx, e.chain(badSig)); err != nil {
		t.Errorf("AddIssuedPreChain with a bad signature = %v, want the CA's word taken", err)
	}
	plain, _ := e.leaf(t, leafOpts{})
	if _, err := e.svc.AddIssuedPreChain(ctx, e.chain(plain)); !errors.Is(err, ErrBadSubmission) {
		t.Errorf("AddIssuedPreChain without poison = %v, want ErrBadSubmission", err)
	}
	other := newPKI(t)
	if _, err := e.svc.AddIssuedPreChain(ctx, [][]byte{pre.Raw, other.Intermediate.Raw, other.Root.Raw}); !errors.Is(err, ErrUnknownAnchor) {
		t.Errorf("AddIssuedPreChain to another root = %v, want ErrUnknownAnchor", err)
	}
}

func TestAddChainDetachedSCT(t *testing.T) {
	e := newEnv(t, Config{})
	leaf, _ := e.leaf(t, leafOpts{})
	s, err := e.svc.AddChain(context.Background(), e.chain(leaf))
	if err != nil {
		t.Fatal(err)
	}
	data, err := sct.X509SignedData(s.Timestamp, leaf.Raw, s.Extensions)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifySignedData(e.svc.PublicKey(), data); err != nil {
		t.Errorf("detached SCT does not verify over the certificate: %v", err)
	}
}

// TestSCTOnlyAfterSequencing checks the durability promise: when an SCT is
// returned, its entry is already in the data tile on disk, at the index
// the SCT names, before any checkpoint need exist.
func TestSCTOnlyAfterSequencing(t *testing.T) {
	e := newEnv(t, Config{})
	pre, _ := e.leaf(t, leafOpts{precert: true})
	s, err := e.svc.AddPreChain(context.Background(), e.chain(pre))
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := ParseLeafIndex(s.Extensions)
	path := filepath.Join(e.dir, "log", "tile", "data", layout.NWithSuffix(0, idx/256, uint8(idx%256+1)))
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("entry not on disk when the SCT was returned: %v", err)
	}
	leaves, err := ParseDataTile(raw)
	if err != nil {
		t.Fatal(err)
	}
	l := leaves[idx%256]
	if !l.IsPrecert || string(l.PreCertificate) != string(pre.Raw) || l.Timestamp != s.Timestamp {
		t.Errorf("logged entry %+v does not match the submission", l)
	}
	tbs, err := sct.RemoveExtension(pre.RawTBSCertificate, poisonExt.Id)
	if err != nil {
		t.Fatal(err)
	}
	if string(l.Certificate) != string(tbs) {
		t.Error("logged TBSCertificate is not the precertificate's without poison")
	}
	if l.IssuerKeyHash != sha256.Sum256(e.pki.Intermediate.RawSubjectPublicKeyInfo) {
		t.Error("issuer key hash is not SHA-256 of the intermediate's SPKI")
	}
	want := [][32]byte{sha256.Sum256(e.pki.Intermediate.Raw), sha256.Sum256(e.pki.Root.Raw)}
	if len(l.Chain) != 2 || l.Chain[0] != want[0] || l.Chain[1] != want[1] {
		t.Errorf("chain fingerprints %x, want intermediate and root", l.Chain)
	}
	for _, fp := range want {
		if _, err := os.Stat(filepath.Join(e.dir, "log", "issuer", hexFP(fp))); err != nil {
			t.Errorf("issuer %x not stored: %v", fp, err)
		}
	}
}

func TestAcceptedChainShapes(t *testing.T) {
	e := newEnv(t, Config{})
	rootKey := e.pki.RootKey
	githubOnly, githubOnlyKey := newCA(t, "github.com only", e.pki.Root, e.pki.RootKey, func(c *x509.Certificate) {
		c.PermittedURIDomains = []string{"github.com"}
	})
	tests := []struct {
		name  string
		chain func() [][]byte
		// wantChain is the fingerprints the log records.
		wantChain []*x509.Certificate
	}{
		{"leaf, intermediate, root", func() [][]byte {
			l, _ := e.leaf(t, leafOpts{precert: true})
			return e.chain(l)
		}, []*x509.Certificate{e.pki.Intermediate, e.pki.Root}},
		{"root left out", func() [][]byte {
			l, _ := e.leaf(t, leafOpts{precert: true})
			return [][]byte{l.Raw, e.pki.Intermediate.Raw}
		}, []*x509.Certificate{e.pki.Intermediate, e.pki.Root}},
		{"issued by the root (Fulcio ephemeral CA)", func() [][]byte {
			l, _ := e.leaf(t, leafOpts{precert: true, issuer: e.pki.Root, issuerKey: rootKey})
			return [][]byte{l.Raw, e.pki.Root.Raw}
		}, []*x509.Certificate{e.pki.Root}},
		{"within the issuer's name constraints", func() [][]byte {
			l, _ := e.leaf(t, leafOpts{precert: true, issuer: githubOnly, issuerKey: githubOnlyKey})
			return [][]byte{l.Raw, githubOnly.Raw, e.pki.Root.Raw}
		}, []*x509.Certificate{githubOnly, e.pki.Root}},
		{"issued by the root, chain of one", func() [][]byte {
			l, _ := e.leaf(t, leafOpts{precert: true, issuer: e.pki.Root, issuerKey: rootKey})
			return [][]byte{l.Raw}
		}, []*x509.Certificate{e.pki.Root}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := tt.chain()
			v, err := e.svc.validator.validate(chain, true, false, time.Now())
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(v.issuers.fingerprints) != len(tt.wantChain) {
				t.Fatalf("recorded %d issuers, want %d", len(v.issuers.fingerprints), len(tt.wantChain))
			}
			for i, c := range tt.wantChain {
				if v.issuers.fingerprints[i] != sha256.Sum256(c.Raw) {
					t.Errorf("issuer %d is not %s", i, c.Subject)
				}
			}
			s, err := e.svc.AddPreChain(context.Background(), chain)
			if err != nil {
				t.Fatal(err)
			}
			pre, _ := x509.ParseCertificate(chain[0])
			tbs, _ := sct.RemoveExtension(pre.RawTBSCertificate, poisonExt.Id)
			data, _ := sct.PrecertSignedData(s.Timestamp, tt.wantChain[0].RawSubjectPublicKeyInfo, tbs, s.Extensions)
			if err := s.VerifySignedData(e.svc.PublicKey(), data); err != nil {
				t.Errorf("SCT does not verify with the issuer's key: %v", err)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t, Config{})
	other := newPKI(t)
	serverAuthInter, serverAuthKey := newCA(t, "server-auth intermediate", e.pki.Root, e.pki.RootKey, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	precertSigner, precertSignerKey := newCA(t, "precert signer", e.pki.Intermediate, e.pki.IntermediateKey, func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid, c.MaxPathLenZero = false, false, false
		c.KeyUsage = x509.KeyUsageDigitalSignature
		c.ExtKeyUsage = nil
		c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidPrecertSigningEKU}
	})
	expiredInter, expiredInterKey := newCA(t, "expired intermediate", e.pki.Root, e.pki.RootKey, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	})
	otherDomain, otherDomainKey := newCA(t, "example.com only", e.pki.Root, e.pki.RootKey, func(c *x509.Certificate) {
		c.PermittedURIDomains = []string{"example.com"}
	})
	// A parent that names another issuer but holds the intermediate's key.
	misnamed := *e.pki.Intermediate
	misnamed.RawSubject = nil
	misnamed.Subject.CommonName = "not the intermediate"
	pre := func(o leafOpts) []byte { o.precert = true; l, _ := e.leaf(t, o); return l.Raw }
	plain := func(o leafOpts) []byte { l, _ := e.leaf(t, o); return l.Raw }
	inter, root := e.pki.Intermediate.Raw, e.pki.Root.Raw

	tests := []struct {
		name    string
		precert bool
		chain   [][]byte
		want    error
		status  int
		errType string
	}{
		{"empty chain", true, nil, ErrMalformed, 400, "malformed"},
		{"garbage leaf", true, [][]byte{[]byte("not DER"), inter, root}, ErrBadCertificate, 400, "badCertificate"},
		{"garbage issuer", true, [][]byte{pre(leafOpts{}), []byte{0x30, 0x00}, root}, ErrBadCertificate, 400, "badCertificate"},
		{"precertificate to add-chain", false, [][]byte{pre(leafOpts{}), inter, root}, ErrBadSubmission, 400, "badSubmission"},
		{"certificate to add-pre-chain", true, [][]byte{plain(leafOpts{}), inter, root}, ErrBadSubmission, 400, "badSubmission"},
		{"non-critical poison", true, [][]byte{pre(leafOpts{poison: &pkix.Extension{Id: poisonExt.Id, Value: []byte{5, 0}}}), inter, root}, ErrBadCertificate, 400, "badCertificate"},
		{"poison that is not NULL", true, [][]byte{pre(leafOpts{poison: &pkix.Extension{Id: poisonExt.Id, Critical: true, Value: []byte{4, 0}}}), inter, root}, ErrBadCertificate, 400, "badCertificate"},
		{"no codeSigning EKU", true, [][]byte{pre(leafOpts{eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), inter, root}, ErrBadSubmission, 400, "badSubmission"},
		{"CA leaf", true, [][]byte{pre(leafOpts{isCA: true}), inter, root}, ErrBadSubmission, 400, "badSubmission"},
		{"expired leaf", true, [][]byte{pre(leafOpts{notBefore: time.Now().Add(-time.Hour)}), inter, root}, ErrBadCertificate, 400, "badCertificate"},
		{"leaf not yet valid", true, [][]byte{pre(leafOpts{notBefore: time.Now().Add(time.Hour)}), inter, root}, ErrBadCertificate, 400, "badCertificate"},
		{"expired intermediate", true, [][]byte{pre(leafOpts{issuer: expiredInter, issuerKey: expiredInterKey}), expiredInter.Raw, root}, ErrBadCertificate, 400, "badCertificate"},
		{"unknown root", true, [][]byte{pre(leafOpts{issuer: other.Intermediate, issuerKey: other.IntermediateKey}), other.Intermediate.Raw, other.Root.Raw}, ErrUnknownAnchor, 400, "unknownAnchor"},
		{"unknown root left out", true, [][]byte{pre(leafOpts{issuer: other.Intermediate, issuerKey: other.IntermediateKey}), other.Intermediate.Raw}, ErrUnknownAnchor, 400, "unknownAnchor"},
		{"chain of one under an intermediate", true, [][]byte{pre(leafOpts{})}, ErrUnknownAnchor, 400, "unknownAnchor"},
		{"issuers out of order", true, [][]byte{pre(leafOpts{}), root, inter}, ErrBadChain, 400, "badChain"},
		{"leaf signature does not verify", true, [][]byte{pre(leafOpts{badSignature: true}), inter, root}, ErrBadChain, 400, "badChain"},
		{"leaf naming another issuer than the one that signed it", true, [][]byte{pre(leafOpts{issuer: &misnamed, issuerKey: e.pki.IntermediateKey}), inter, root}, ErrBadChain, 400, "badChain"},
		{"leaf issued by another intermediate", true, [][]byte{pre(leafOpts{issuer: other.Intermediate, issuerKey: other.IntermediateKey}), inter, root}, ErrBadChain, 400, "badChain"},
		{"intermediate without codeSigning", true, [][]byte{pre(leafOpts{issuer: serverAuthInter, issuerKey: serverAuthKey}), serverAuthInter.Raw, root}, ErrBadChain, 400, "badChain"},
		{"precertificate signing certificate", true, [][]byte{pre(leafOpts{issuer: precertSigner, issuerKey: precertSignerKey}), precertSigner.Raw, inter, root}, ErrBadChain, 400, "badChain"},
		{"outside the issuer's name constraints", true, [][]byte{pre(leafOpts{issuer: otherDomain, issuerKey: otherDomainKey}), otherDomain.Raw, root}, ErrBadChain, 400, "badChain"},
		{"too long", true, append([][]byte{pre(leafOpts{})}, repeat(inter, 10)...), ErrBadChain, 400, "badChain"},
	}
	srv := newServer(t, e)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.precert {
				_, err = e.svc.AddPreChain(context.Background(), tt.chain)
			} else {
				_, err = e.svc.AddChain(context.Background(), tt.chain)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("in process: got %v, want %v", err, tt.want)
			}
			// The same refusal over HTTP: status, RFC 9162 type, and the
			// Client maps it back to the sentinel.
			endpoint := "add-chain"
			if tt.precert {
				endpoint = "add-pre-chain"
			}
			status, p := srv.postProblem(t, endpoint, AddChainRequest{Chain: tt.chain})
			if status != tt.status || p.Type != errorTypePrefix+tt.errType || p.Detail == "" {
				t.Errorf("HTTP: %d %+v, want %d type %s", status, p, tt.status, tt.errType)
			}
			c := &Client{URL: srv.URL + "/ct"}
			if tt.precert {
				_, err = c.AddPreChain(context.Background(), tt.chain)
			} else {
				_, err = c.AddChain(context.Background(), tt.chain)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Client: got %v, want %v", err, tt.want)
			}
		})
	}
	// Nothing refused was logged.
	if size, err := e.svc.reader.IntegratedSize(context.Background()); err != nil || size != 0 {
		t.Errorf("tree size %d (%v) after refusals only, want 0", size, err)
	}
}

func repeat(b []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// TestDuplicateGetsTheFirstSCT: a resubmitted chain is not logged twice,
// and its SCT is the one the log can prove.
func TestDuplicateGetsTheFirstSCT(t *testing.T) {
	e := newEnv(t, Config{})
	pre, _ := e.leaf(t, leafOpts{precert: true})
	first, err := e.svc.AddPreChain(context.Background(), e.chain(pre))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // a later submission time, to see which is used
	again, err := e.svc.AddPreChain(context.Background(), e.chain(pre))
	if err != nil {
		t.Fatal(err)
	}
	if again.Timestamp != first.Timestamp || string(again.Extensions) != string(first.Extensions) {
		t.Errorf("duplicate got timestamp %d ext %x, want the first's %d %x", again.Timestamp, again.Extensions, first.Timestamp, first.Extensions)
	}
	final := e.finalCert(t, pre, again)
	if err := again.Verify(e.svc.PublicKey(), final, e.pki.Intermediate.RawSubjectPublicKeyInfo); err != nil {
		t.Error(err)
	}
	if size, _ := e.svc.reader.IntegratedSize(context.Background()); size != 1 {
		t.Errorf("tree size %d, want 1", size)
	}
}

// TestConcurrentSubmissions: concurrent submissions are group-committed
// and each gets its own index and a valid SCT.
func TestConcurrentSubmissions(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, Config{Registerer: reg})
	const n = 200
	pres := make([]*x509.Certificate, n)
	for i := range pres {
		pres[i], _ = e.leaf(t, leafOpts{precert: true})
	}
	scts := make([]*sct.SCT, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scts[i], errs[i] = e.svc.AddPreChain(context.Background(), e.chain(pres[i]))
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("submission %d: %v", i, errs[i])
		}
		idx, err := ParseLeafIndex(scts[i].Extensions)
		if err != nil || idx >= n || seen[idx] {
			t.Fatalf("submission %d got index %d (%v): out of range or reused", i, idx, err)
		}
		seen[idx] = true
		tbs, _ := sct.RemoveExtension(pres[i].RawTBSCertificate, poisonExt.Id)
		data, _ := sct.PrecertSignedData(scts[i].Timestamp, e.pki.Intermediate.RawSubjectPublicKeyInfo, tbs, scts[i].Extensions)
		if err := scts[i].VerifySignedData(e.svc.PublicKey(), data); err != nil {
			t.Fatalf("submission %d: %v", i, err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[mf.GetName()+"_count"] += float64(m.GetHistogram().GetSampleCount())
				got[mf.GetName()+"_sum"] += m.GetHistogram().GetSampleSum()
			case m.GetGauge() != nil:
				got[mf.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	if got["sigil_ctlog_submissions_total"] != n || got["sigil_ctlog_batch_entries_sum"] != n || got["sigil_ctlog_last_sct_index"] > n-1 {
		t.Errorf("metrics %v do not count %d submissions", got, n)
	}
}

func TestReopen(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	cfg := Config{DataDir: dir, PublicURL: "https://ct.sigil.test/2026", Roots: []*x509.Certificate{p.Root}, Logger: quietLogger()}
	e := &env{pki: p, dir: dir}
	svc, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	pre, _ := e.leaf(t, leafOpts{precert: true})
	if _, err := svc.AddPreChain(context.Background(), e.chain(pre)); err != nil {
		t.Fatal(err)
	}
	id := svc.LogID()
	if err := svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := svc.AddPreChain(context.Background(), e.chain(pre)); !errors.Is(err, ErrShutdown) {
		t.Errorf("AddPreChain after Close = %v, want ErrShutdown", err)
	}
	// Close published a checkpoint covering the entry.
	cp, err := os.ReadFile(filepath.Join(dir, "log", "checkpoint"))
	if err != nil || !strings.HasPrefix(string(cp), "ct.sigil.test/2026\n1\n") {
		t.Errorf("final checkpoint %q (%v), want size 1", cp, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("generated key: %v, mode %v; want 0600", err, fi.Mode())
	}

	svc2, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer svc2.Close()
	if svc2.LogID() != id {
		t.Error("reopened log has another key")
	}
	e.svc = svc2
	pre2, _ := e.leaf(t, leafOpts{precert: true})
	s, err := svc2.AddPreChain(context.Background(), e.chain(pre2))
	if err != nil {
		t.Fatal(err)
	}
	if idx, _ := ParseLeafIndex(s.Extensions); idx != 1 {
		t.Errorf("index after reopen = %d, want 1", idx)
	}
	// One writer per data directory: a second (a sigil ctlog serve on a
	// running server's ct directory) is refused.
	if third, err := New(context.Background(), cfg); !errors.Is(err, fsutil.ErrLocked) {
		if third != nil {
			third.Close()
		}
		t.Fatalf("a second writer on the data directory: %v, want ErrLocked", err)
	}
	svc2.Close()

	// The data directory belongs to that origin and key.
	bad := cfg
	bad.PublicURL = "https://elsewhere.sigil.test/2026"
	if _, err := New(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "belongs to the log") {
		t.Errorf("open with another origin: %v, want a refusal", err)
	}
	keyFile := filepath.Join(t.TempDir(), "other.pem")
	other, _ := testpki.New(testpki.Options{})
	writeKey(t, keyFile, other.CTKey)
	bad = cfg
	bad.KeyFile = keyFile
	if _, err := New(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "belongs to the log") {
		t.Errorf("open with another key: %v, want a refusal", err)
	}
}

func TestKeyFile(t *testing.T) {
	p := newPKI(t)
	keyFile := filepath.Join(t.TempDir(), "ct.pem")
	writeKey(t, keyFile, p.CTKey)
	e := newEnv(t, Config{KeyFile: keyFile})
	if e.svc.LogID() != testpki.KeyID(p.CTKey.Public()) {
		t.Error("log ID is not SHA-256 of the key file's public key")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "key.pem")); err == nil {
		t.Error("a key was generated although KeyFile was given")
	}
	tl, err := e.svc.TrustedLog()
	if err != nil {
		t.Fatal(err)
	}
	if tl.BaseURL != e.url || string(tl.ID) != string(func() []byte { k := testpki.KeyID(p.CTKey.Public()); return k[:] }()) || tl.Valid.Start.After(time.Now()) {
		t.Errorf("trusted log %+v", tl)
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaKeyFile := filepath.Join(t.TempDir(), "rsa.pem")
	os.WriteFile(rsaKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	garbageKeyFile := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbageKeyFile, []byte("not a key"), 0o600)
	for name, cfg := range map[string]Config{
		"missing key file": {KeyFile: filepath.Join(t.TempDir(), "absent.pem")},
		"no roots":         {Roots: []*x509.Certificate{}},
		"bad URL":          {PublicURL: "ct.sigil.test/ct"},
		"URL with query":   {PublicURL: "https://ct.sigil.test/?a=b"},
		"fast checkpoints": {CheckpointInterval: time.Millisecond},
		"RSA key":          {KeyFile: rsaKeyFile},
		"not a PEM key":    {KeyFile: garbageKeyFile},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.DataDir = t.TempDir()
			if cfg.PublicURL == "" {
				cfg.PublicURL = "https://ct.sigil.test"
			}
			if cfg.Roots == nil {
				cfg.Roots = []*x509.Certificate{p.Root}
			}
			if svc, err := New(context.Background(), cfg); err == nil {
				svc.Close()
				t.Error("New succeeded")
			}
		})
	}
}

// TestReadyFollowsFailingWrites: while the storage fails every entry (a
// full or unwritable disk), Ready says so; it clears once the storage takes
// writes again, before any entry (a load balancer sends none to an unready
// CA), and after a failure the storage probe does not reproduce.
func TestReadyFollowsFailingWrites(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	if err := e.svc.Ready(); err != nil {
		t.Fatalf("a new log: %v", err)
	}
	lock := filepath.Join(e.dir, "log", ".state", "treeState.lock")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lock, 0o755); err != nil {
		t.Fatal(err)
	}
	pre, _ := e.leaf(t, leafOpts{precert: true})
	if _, err := e.svc.AddPreChain(ctx, e.chain(pre)); err == nil {
		t.Fatal("an entry the storage refused got an SCT")
	}
	if err := e.svc.Ready(); err == nil || !strings.Contains(err.Error(), "writes failing since") || !strings.Contains(err.Error(), "treeState.lock") {
		t.Fatalf("Ready while writes fail: %v", err)
	}
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the storage is probed at most once a second
	if err := e.svc.Ready(); err != nil {
		t.Fatalf("Ready once the storage takes writes again: %v", err)
	}
	if _, err := e.svc.AddPreChain(ctx, e.chain(pre)); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Ready(); err != nil {
		t.Fatalf("Ready after a durable entry: %v", err)
	}
	add := e.svc.seq.add
	e.svc.seq.add = func(context.Context, *ctonly.Entry) tessera.IndexFuture {
		return func() (tessera.Index, error) { return tessera.Index{}, errors.New("transient") }
	}
	pre, _ = e.leaf(t, leafOpts{precert: true})
	if _, err := e.svc.AddPreChain(ctx, e.chain(pre)); err == nil {
		t.Fatal("an entry the storage refused got an SCT")
	}
	e.svc.seq.add = add
	if err := e.svc.Ready(); err != nil {
		t.Fatalf("Ready after a failure the storage probe does not see: %v", err)
	}
}

// TestUnwritableStorageFailsWrites: when Tessera's POSIX driver cannot
// open the lock file it takes for every batch (a data directory remounted
// read-only), the submission fails and Ready names the cause; the driver
// itself would panic and end the process (the CA's with it). Once the file
// can be opened again, submissions get SCTs; a start on such storage is
// refused. (A directory in the lock file's place stands for the read-only
// file system: opening it for writing fails for root too.)
func TestUnwritableStorageFailsWrites(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	lock := filepath.Join(e.dir, "log", ".state", "treeState.lock")
	unwritable := func() {
		t.Helper()
		if err := os.Remove(lock); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(lock, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	unwritable()
	pre, _ := e.leaf(t, leafOpts{precert: true})
	if _, err := e.svc.AddPreChain(ctx, e.chain(pre)); err == nil {
		t.Fatal("an entry the storage cannot take got an SCT")
	}
	if err := e.svc.Ready(); err == nil || !strings.Contains(err.Error(), "writes failing since") || !strings.Contains(err.Error(), "treeState.lock") {
		t.Fatalf("Ready while the storage is unwritable: %v", err)
	}
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddPreChain(ctx, e.chain(pre)); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Ready(); err != nil {
		t.Fatalf("Ready after a durable entry: %v", err)
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	unwritable()
	if svc, err := New(ctx, Config{DataDir: e.dir, PublicURL: e.url, Roots: []*x509.Certificate{e.pki.Root}, Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), "treeState.lock") {
		if err == nil {
			svc.Close()
		}
		t.Fatalf("New on storage whose lock file cannot be opened: %v", err)
	}
}

// TestLostTreeStateRefused: a CT log whose tree state (.state/treeState)
// is missing beside its checkpoint and tiles is refused at start; Tessera
// started it over at size 0 and published an empty checkpoint over the
// log's, so that new SCTs named leaf indices already in use.
func TestLostTreeStateRefused(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	pre, _ := e.leaf(t, leafOpts{precert: true})
	if _, err := e.svc.AddPreChain(ctx, e.chain(pre)); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(e.dir, "log", "checkpoint")
	before, err := os.ReadFile(cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.dir, "log", ".state", "treeState")); err != nil {
		t.Fatal(err)
	}
	svc, err := New(ctx, Config{DataDir: e.dir, PublicURL: e.url, Roots: []*x509.Certificate{e.pki.Root}, Logger: quietLogger()})
	if err == nil {
		svc.Close()
		t.Fatal("the log started without its tree state")
	}
	if !strings.Contains(err.Error(), "treeState") || !strings.Contains(err.Error(), "restore") {
		t.Errorf("error does not say what is missing and what to do: %v", err)
	}
	if after, _ := os.ReadFile(cp); !bytes.Equal(after, before) {
		t.Errorf("the checkpoint changed:\n%s\nwas\n%s", after, before)
	}
}

// TestDamagedCheckpoint: a published checkpoint cut short (a full disk, an
// operator's mistake) makes the log unready while it runs, instead of
// being served with 200 while every tile read fails and /readyz said
// ready, and is refused at start with what to do (Tessera never replaces
// a checkpoint it cannot parse).
func TestDamagedCheckpoint(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	pre, _ := e.leaf(t, leafOpts{precert: true})
	if _, err := e.svc.AddPreChain(ctx, e.chain(pre)); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Ready(); err != nil {
		t.Fatalf("a sound log is not ready: %v", err)
	}
	cp := filepath.Join(e.dir, "log", "checkpoint")
	raw, err := os.ReadFile(cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Ready(); err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("Ready with a checkpoint cut short: %v", err)
	}
	e.svc.Close() //nolint:errcheck // Tessera's shutdown may fail on the damaged checkpoint too
	// Tessera may have published a new checkpoint at shutdown: damage it again.
	if err := os.WriteFile(cp, raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	svc, err := New(ctx, Config{DataDir: e.dir, PublicURL: e.url, Roots: []*x509.Certificate{e.pki.Root}, Logger: quietLogger()})
	if err == nil {
		svc.Close()
		t.Fatal("the log started with a damaged checkpoint")
	}
	if !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "delete the file") {
		t.Errorf("error does not say what is wrong and what to do: %v", err)
	}
	// Deleted, the log starts and publishes a new one.
	if err := os.Remove(cp); err != nil {
		t.Fatal(err)
	}
	svc, err = New(ctx, Config{DataDir: e.dir, PublicURL: e.url, Roots: []*x509.Certificate{e.pki.Root}, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("after deleting the damaged checkpoint: %v", err)
	}
	if err := svc.Ready(); err != nil {
		t.Errorf("Ready after the restart: %v", err)
	}
	svc.Close()
}
