package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/keyfile"
	"sigil.dev/sigil/policy"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// verifyFlags are the flags shared by the verify commands.
type verifyFlags struct {
	bundle string
	trust  trustFlags
	key    string

	identity, identityRegexp string
	issuer, issuerRegexp     string
	ghTrigger, ghSHA         string
	ghName, ghRepo, ghRef    string
	extensions               []string
	extensionRegexps         []string

	tlogThreshold, sctThreshold, tsThreshold int
	ignoreTlog                               bool
	flags                                    *pflag.FlagSet // to tell a threshold given as 0 from none
	output                                   string
	policyFile                               string

	// Detached verification (verify-blob): a signature and certificate
	// instead of a bundle, the log entry looked up online.
	signature, certificate, rekorURL string
	registeredDetached               bool // the command takes --signature

	root *trust.TrustedRoot // what verifier loaded
}

func (f *verifyFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.bundle, "bundle", "", "the Sigstore bundle to verify (required, but for verify-blob --signature)")
	f.registerTrust(c)
}

// registerTrust adds every flag but --bundle: what to trust and whom to
// accept, for commands that find the bundles themselves (images).
func (f *verifyFlags) registerTrust(c *cobra.Command) {
	fl := c.Flags()
	f.flags = fl
	fl.StringVar(&f.trust.trustedRoot, "trusted-root", "", "trusted root JSON file listing the CAs, logs and TSAs to trust (default: trusted_root.json from the TUF mirror set up with sigil trust init)")
	f.trust.registerOffline(fl)
	fl.StringVar(&f.key, "key", "", "PEM public key of a key-signed bundle, instead of an identity policy")
	fl.StringVar(&f.identity, "certificate-identity", "", "exact certificate identity (SAN): email, URI or username")
	fl.StringVar(&f.identityRegexp, "certificate-identity-regexp", "", "regular expression the certificate identity must match (unanchored: use ^…$)")
	fl.StringVar(&f.issuer, "certificate-oidc-issuer", "", "exact OIDC issuer of the certificate")
	fl.StringVar(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "", "regular expression the OIDC issuer must match (unanchored)")
	f.registerExtensions(fl)
	fl.IntVar(&f.tlogThreshold, "tlog-threshold", 0, "distinct transparency logs that must hold a verified entry, logs of one operator counting once (default 1; -1 disables, for a deployment without logs)")
	fl.IntVar(&f.sctThreshold, "sct-threshold", 0, "distinct CT logs whose embedded SCT must verify (default 1; -1 disables)")
	fl.IntVar(&f.tsThreshold, "timestamp-threshold", 0, "RFC 3161 timestamps from distinct authorities that must verify (default 1 when the bundle carries any and the trusted root lists TSAs; -1 disables)")
	fl.BoolVar(&f.ignoreTlog, "insecure-ignore-tlog", false, "key-signed bundles only: accept a bundle without a log entry, verifying at the current time")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json (the verification result)")
}

// registerExtensions adds the certificate extension matchers of an
// identity policy.
func (f *verifyFlags) registerExtensions(fl *pflag.FlagSet) {
	fl.StringVar(&f.ghTrigger, "certificate-github-workflow-trigger", "", "GitHub workflow trigger the certificate must state (e.g. push)")
	fl.StringVar(&f.ghSHA, "certificate-github-workflow-sha", "", "GitHub workflow commit SHA the certificate must state")
	fl.StringVar(&f.ghName, "certificate-github-workflow-name", "", "GitHub workflow name the certificate must state")
	fl.StringVar(&f.ghRepo, "certificate-github-workflow-repository", "", "GitHub repository (owner/name) the certificate must state")
	fl.StringVar(&f.ghRef, "certificate-github-workflow-ref", "", "git ref the certificate must state (e.g. refs/heads/main)")
	fl.StringArrayVar(&f.extensions, "certificate-extension", nil, "NAME=VALUE: a Fulcio certificate extension, by name (e.g. sourceRepositoryURI) or OID, must equal VALUE (repeatable)")
	fl.StringArrayVar(&f.extensionRegexps, "certificate-extension-regexp", nil, "NAME=REGEXP: a Fulcio certificate extension must match REGEXP (repeatable)")
}

// hasExtensions reports whether any extension matcher flag is set.
func (f *verifyFlags) hasExtensions() bool {
	return f.ghTrigger != "" || f.ghSHA != "" || f.ghName != "" || f.ghRepo != "" || f.ghRef != "" || len(f.extensions) > 0 || len(f.extensionRegexps) > 0
}

func (f *verifyFlags) identityPolicy() ([]verify.Identity, error) {
	san, err := verify.NewMatcher(f.identity, f.identityRegexp)
	if err != nil {
		return nil, err
	}
	iss, err := verify.NewMatcher(f.issuer, f.issuerRegexp)
	if err != nil {
		return nil, err
	}
	id := verify.Identity{SubjectAlternativeName: san, Issuer: iss}
	for name, v := range map[string]string{
		"githubWorkflowTrigger": f.ghTrigger, "githubWorkflowSHA": f.ghSHA, "githubWorkflowName": f.ghName,
		"githubWorkflowRepository": f.ghRepo, "githubWorkflowRef": f.ghRef,
	} {
		if v != "" {
			fld, _ := cert.FieldByName(name)
			id.Extensions = append(id.Extensions, verify.ExtensionMatcher{Field: fld, Matcher: verify.Matcher{Exact: v}})
		}
	}
	for _, kv := range f.extensions {
		m, err := extensionMatcher(kv, false)
		if err != nil {
			return nil, err
		}
		id.Extensions = append(id.Extensions, m)
	}
	for _, kv := range f.extensionRegexps {
		m, err := extensionMatcher(kv, true)
		if err != nil {
			return nil, err
		}
		id.Extensions = append(id.Extensions, m)
	}
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("%v: pass --certificate-identity (or -regexp) and --certificate-oidc-issuer (or -regexp), or --key for a key-signed bundle", err)
	}
	return []verify.Identity{id}, nil
}

func extensionMatcher(kv string, re bool) (verify.ExtensionMatcher, error) {
	name, val, ok := strings.Cut(kv, "=")
	if !ok || val == "" {
		return verify.ExtensionMatcher{}, fmt.Errorf("certificate extension %q: want NAME=VALUE", kv)
	}
	fld, ok := cert.FieldByName(name)
	if !ok {
		var names []string
		for _, f := range cert.Fields {
			if !slices.Contains(names, f.Name) { // issuer is .1 (deprecated) and .8
				names = append(names, f.Name)
			}
		}
		return verify.ExtensionMatcher{}, fmt.Errorf("unknown certificate extension %q; known: %s", name, strings.Join(names, ", "))
	}
	var m verify.Matcher
	var err error
	if re {
		m, err = verify.NewMatcher("", val)
	} else {
		m, err = verify.NewMatcher(val, "")
	}
	return verify.ExtensionMatcher{Field: fld, Matcher: m}, err
}

// identityFlagged reports whether any certificate identity flag is set:
// the identity and issuer, the GitHub workflow extensions or any other
// certificate extension.
func (f *verifyFlags) identityFlagged() bool {
	return f.identity != "" || f.identityRegexp != "" || f.issuer != "" || f.issuerRegexp != "" || f.hasExtensions()
}

// policy returns the verification policy: a key, or identities.
func (f *verifyFlags) policy() (verify.Policy, error) {
	if f.key != "" {
		// A key-signed bundle has no certificate to hold to an extension
		// flag: refuse one rather than ignore it.
		if f.identityFlagged() {
			return verify.Policy{}, errors.New("give either --key or a certificate identity policy, not both")
		}
		k, err := loadPublicKey(f.key)
		if err != nil {
			return verify.Policy{}, err
		}
		return verify.Policy{Key: k}, nil
	}
	ids, err := f.identityPolicy()
	if err != nil {
		return verify.Policy{}, err
	}
	return verify.Policy{Identities: ids}, nil
}

// registerPolicyFile adds --policy, for the attestation commands.
func (f *verifyFlags) registerPolicyFile(c *cobra.Command) {
	c.Flags().StringVar(&f.policyFile, "policy", "", "YAML policy file: identities (or a key), a predicate type and CEL conditions over the in-toto statement, which must all hold (format: sigil help policy)")
}

// registerBlobPolicyFile adds --policy to verify-blob, whose conditions
// see the signer's certificate (and the statement, for a DSSE bundle).
func (f *verifyFlags) registerBlobPolicyFile(c *cobra.Command) {
	c.Flags().StringVar(&f.policyFile, "policy", "", "YAML policy file: identities (or a key) and CEL conditions over the signer's certificate, which must all hold (format: sigil help policy)")
}

// attestationPolicy returns the verification policy and the --policy file
// (nil without one). Identities (or the key) come from the flags or from
// the file, not both; the predicate type from --type (a URI, or "") or the
// file, which must then agree.
func (f *verifyFlags) attestationPolicy(predicateType string) (verify.Policy, *policy.Policy, error) {
	if f.policyFile == "" {
		p, err := f.policy()
		p.PredicateType = predicateType
		return p, nil, err
	}
	pf, err := policy.Load(f.policyFile)
	if err != nil {
		return verify.Policy{}, nil, err
	}
	var p verify.Policy
	switch {
	case len(pf.Identities) > 0 || pf.Key != nil:
		// A certificate flag beside the policy's signers would be ignored,
		// accepting certificates it was meant to refuse.
		if f.key != "" || f.identityFlagged() {
			return verify.Policy{}, nil, fmt.Errorf("%s names the signers; drop the --certificate-* and --key flags (or remove the signers from the policy)", f.policyFile)
		}
		p = pf.VerifyPolicy()
	default:
		if p, err = f.policy(); err != nil {
			return verify.Policy{}, nil, err
		}
	}
	switch {
	case predicateType != "" && pf.PredicateType != "" && predicateType != pf.PredicateType:
		return verify.Policy{}, nil, fmt.Errorf("--type %s differs from the policy's predicateType %s", predicateType, pf.PredicateType)
	case predicateType != "":
		p.PredicateType = predicateType
	default:
		p.PredicateType = pf.PredicateType
	}
	return p, pf, nil
}

func loadPublicKey(path string) (crypto.PublicKey, error) {
	if isPKCS11URI(path) {
		// Not read as a file name: "couldn't read public key: open …"
		// would print the URI, its pin-value with it.
		return nil, errors.New("couldn't read public key: --key takes a PEM file here, not a PKCS#11 URI; write the token key's public key with 'sigil public-key --key URI > key.pub' and pass key.pub")
	}
	raw, err := readFile("public key", path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		return nil, fmt.Errorf("couldn't read public key %s: not PEM", path)
	}
	switch blk.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("couldn't parse public key %s: %w", path, err)
		}
		return k, nil
	case keyfile.TypePublicRSA:
		// PKCS#1, as openssl rsa -RSAPublicKey_out writes it; cosign
		// reads it too.
		k, err := x509.ParsePKCS1PublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("couldn't parse public key %s: %w", path, err)
		}
		return k, nil
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("couldn't parse certificate %s: %w", path, err)
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("couldn't read public key %s: PEM block %q, want PUBLIC KEY", path, blk.Type)
}

// verifier builds the verifier for a policy from the trusted root and
// thresholds. The key of a key-signed bundle comes from --key or from a
// --policy file's key.
func (f *verifyFlags) verifier(pol verify.Policy) (*verify.Verifier, error) {
	// 0 stands for "the default" inside, and other negative values for
	// "off": refuse both when given, so that --sct-threshold 0 does not
	// quietly require one SCT, nor -2 quietly disable a check.
	for _, t := range []struct {
		name  string
		value int
	}{{"tlog-threshold", f.tlogThreshold}, {"sct-threshold", f.sctThreshold}, {"timestamp-threshold", f.tsThreshold}} {
		if t.value < verify.Off || (t.value == 0 && f.flags != nil && f.flags.Changed(t.name)) {
			return nil, fmt.Errorf("--%s %d: give a count of at least 1, or -1 to disable the requirement", t.name, t.value)
		}
	}
	var tr *trust.TrustedRoot
	var err error
	keyed := pol.Key != nil
	if f.ignoreTlog && keyed && f.trust.trustedRoot == "" {
		// The key is the only anchor and the time is now: nothing in a
		// trust root applies, so none is needed (as with cosign).
		tr = &trust.TrustedRoot{}
	} else if tr, err = f.trust.loadTrustedRoot(); err != nil {
		return nil, err
	}
	f.root = tr
	opts := verify.Options{TlogThreshold: f.tlogThreshold, SCTThreshold: f.sctThreshold, SignedTimestampThreshold: f.tsThreshold}
	if f.ignoreTlog {
		if !keyed {
			return nil, errors.New("--insecure-ignore-tlog applies only to key-signed bundles (--key, or a policy's key)")
		}
		opts.TlogThreshold = verify.Off
		opts.UseCurrentTime = true
	}
	return verify.New(tr, opts), nil
}

// registerDetached adds the flags of detached verification to verify-blob.
func (f *verifyFlags) registerDetached(c *cobra.Command) {
	f.registeredDetached = true
	fl := c.Flags()
	fl.StringVar(&f.signature, "signature", "", "a detached signature instead of --bundle (base64, as cosign sign-blob --output-signature writes it, or raw): the log entry is looked up online")
	fl.StringVar(&f.certificate, "certificate", "", "with --signature: the signer's certificate (PEM, base64 PEM as cosign --output-certificate writes it, or DER)")
	fl.StringVar(&f.rekorURL, "rekor-url", "", "with --signature: the Rekor v1 log to look the entry up in (default: the trusted root's logs)")
}

// detachedBundle makes the bundle a detached signature amounts to: the
// signature over the artifact's SHA-256 digest, the certificate (or
// --key), and the hashedrekord entry the signer logged, found by a search
// of the Rekor v1 logs (as cosign verify-blob does without a bundle). The
// artifact is read once, so "-" works; it is then named by its digest.
// The entry is not trusted here: the bundle is verified as any other.
func (f *verifyFlags) detachedBundle(ctx context.Context, art verify.Artifact, pol verify.Policy) (*bundle.Bundle, verify.Artifact, error) {
	if f.bundle != "" {
		return nil, art, errors.New("give --bundle or --signature, not both")
	}
	switch {
	case f.certificate != "" && pol.Key != nil:
		return nil, art, errors.New("give --certificate (a keyless signature) or a key (--key, or a policy's key), not both")
	case f.certificate == "" && pol.Key == nil:
		return nil, art, errors.New("--signature needs the signer: --certificate FILE for a keyless signature, or --key for a key-signed one")
	}
	raw, err := readSmallFile("signature", f.signature, 64<<10)
	if err != nil {
		return nil, art, err
	}
	sig := raw
	if t := bytes.TrimSpace(raw); len(t) > 0 {
		if d, err := base64.StdEncoding.DecodeString(string(t)); err == nil {
			sig = d
		}
	}
	var certDER []byte
	if f.certificate != "" {
		if certDER, err = readCertificate(f.certificate); err != nil {
			return nil, art, err
		}
	}
	digest := art.Digest
	if art.Open != nil {
		r, err := art.Open()
		if err != nil {
			return nil, art, err
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return nil, art, fmt.Errorf("couldn't read the artifact: %w", err)
		}
		digest = h.Sum(nil)
	} else if art.DigestAlgorithm != crypto.SHA256 {
		return nil, art, errors.New("a detached signature is over the artifact's SHA-256 digest: give the file, or sha256:HEX")
	}
	art = verify.Artifact{DigestAlgorithm: crypto.SHA256, Digest: digest}
	msg := &bundle.MessageSignature{DigestAlgorithm: crypto.SHA256, Digest: digest, Signature: sig}
	var entries []*protorekor.TransparencyLogEntry
	if !f.ignoreTlog {
		var logs []*sign.RekorV1
		hc := &http.Client{Timeout: 30 * time.Second}
		ua := "sigil/" + Version
		if f.rekorURL != "" {
			logs = append(logs, &sign.RekorV1{BaseURL: f.rekorURL, HTTPClient: hc, UserAgent: ua})
		} else if f.root != nil {
			// A v1 and a v2 log may share a base URL: ask each URL once,
			// in a fixed order.
			var urls []string
			for _, l := range f.root.TLogs {
				if l.BaseURL != "" && !slices.Contains(urls, l.BaseURL) {
					urls = append(urls, l.BaseURL)
				}
			}
			slices.Sort(urls)
			for _, u := range urls {
				logs = append(logs, &sign.RekorV1{BaseURL: u, HTTPClient: hc, UserAgent: ua})
			}
		}
		tle, _, err := sign.FindHashedRekord(ctx, logs, sign.Lookup{Hash: crypto.SHA256, Digest: digest, Signature: sig, Certificate: certDER, Key: pol.Key})
		if err != nil {
			where := "; pass --rekor-url for the Rekor v1 log it was recorded in"
			if f.rekorURL != "" {
				where = "" // given already
			}
			return nil, art, fmt.Errorf("couldn't find a transparency log entry of this signature over this artifact (a signature over another artifact has none either): %w%s", err, where)
		}
		entries = append(entries, tle)
	}
	var hint *string
	if certDER == nil {
		hint = new(string)
	}
	b, err := bundle.New(certDER, hint, msg, nil, entries, nil)
	if err != nil {
		return nil, art, fmt.Errorf("couldn't assemble the signature: %w", err)
	}
	return b, art, nil
}

// readCertificate reads a certificate file: PEM, base64 of PEM (cosign's
// --output-certificate) or DER.
func readCertificate(path string) ([]byte, error) {
	raw, err := readSmallFile("certificate", path, 1<<20)
	if err != nil {
		return nil, err
	}
	if d, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw))); err == nil && bytes.Contains(d, []byte("-----BEGIN")) {
		raw = d
	}
	if blk, _ := pem.Decode(raw); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("couldn't read certificate %s: PEM block %q, want CERTIFICATE", path, blk.Type)
		}
		raw = blk.Bytes
	}
	if _, err := x509.ParseCertificate(raw); err != nil {
		return nil, fmt.Errorf("couldn't read certificate %s: %w", path, err)
	}
	return raw, nil
}

func (f *verifyFlags) loadBundle() (*bundle.Bundle, error) {
	raw, err := readSmallFile("bundle", f.bundle, maxBundleFile)
	if err != nil {
		if f.bundle == "" && f.registeredDetached {
			return nil, fmt.Errorf("%w (pass --bundle FILE, or --signature FILE for a detached signature)", err)
		}
		return nil, fmt.Errorf("%w (pass --bundle FILE)", err)
	}
	b, err := bundle.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("couldn't load bundle %s: %w", f.bundle, err)
	}
	return b, nil
}

// artifactArg interprets ARTIFACT|sha256:HEX. A digest form is taken only
// when no file of that name exists.
func artifactArg(arg string) (verify.Artifact, error) {
	if arg == "-" {
		used := false
		return verify.Artifact{Open: func() (verify.ReadCloser, error) {
			if used {
				return nil, errors.New("standard input can be read only once")
			}
			used = true
			return os.Stdin, nil
		}}, nil
	}
	if alg, hx, ok := strings.Cut(arg, ":"); ok {
		if _, err := os.Stat(arg); err != nil {
			h, known := map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}[strings.ToLower(alg)]
			if known {
				d, err := hex.DecodeString(hx)
				if err != nil || len(d) != h.Size() {
					return verify.Artifact{}, fmt.Errorf("artifact digest %q: want %s:<%d hex digits>", arg, alg, 2*h.Size())
				}
				return verify.Artifact{DigestAlgorithm: h, Digest: d}, nil
			}
		}
	}
	if _, err := os.Stat(arg); err != nil {
		return verify.Artifact{}, fmt.Errorf("couldn't open artifact: %w", err)
	}
	return verify.Artifact{Open: func() (verify.ReadCloser, error) { return os.Open(arg) }}, nil
}

func report(cmd *cobra.Command, output string, res *verify.Result) error {
	switch output {
	case "json":
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case "text", "":
		var who string
		if c := res.Signature.Certificate; c != nil {
			who = fmt.Sprintf("%s (issuer %s)", c.SubjectAlternativeName, c.Issuer)
		} else {
			who = "key " + res.Signature.PublicKeyID
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "Verified OK: signed by %s", who)
		for _, t := range res.VerifiedTimestamps {
			fmt.Fprintf(cmd.ErrOrStderr(), ", %s", timeLabel(t))
		}
		fmt.Fprintln(cmd.ErrOrStderr())
		return nil
	}
	return fmt.Errorf("unknown --output %q: use text or json", output)
}

// timeLabel names a verified time for the one-line report.
func timeLabel(t verify.VerifiedTime) string {
	at := t.Timestamp.Format("2006-01-02T15:04:05Z")
	if t.Type == "CurrentTime" {
		return "checked at the current time " + at
	}
	return strings.ToLower(t.Type) + " time " + at
}

func newVerifyBlob() *cobra.Command {
	var f verifyFlags
	c := &cobra.Command{
		Use:   "verify-blob ARTIFACT|sha256:HEX --bundle FILE (--certificate-identity ID | --certificate-identity-regexp RE) (--certificate-oidc-issuer URL | --certificate-oidc-issuer-regexp RE) [--trusted-root FILE]",
		Short: "Verify a bundle's signature over a file or digest",
		Long: `Verify that a Sigstore bundle proves an accepted identity signed the artifact.

The artifact is a file, "-" for standard input, or sha256:<hex> (sha384:,
sha512:) when only its digest is known. Verification is offline: the bundle's
log entries, checkpoints, SETs and timestamps are checked against the trusted
root. An identity policy (or --key) is required; nothing is accepted by default.
--policy reads it from a YAML file instead, with CEL conditions over the
signer's certificate (its subject, issuer and Fulcio extensions by name) that
must all hold; a failure names the condition.

A detached signature (cosign sign-blob --output-signature/--output-certificate,
as many projects publish .sig and .pem files) verifies with --signature and
--certificate (or --key) instead of --bundle: its entry is looked up in the
Rekor v1 logs of the trusted root (or --rekor-url) by digest and signer, then
verified as a bundle's would be. This needs the log to be reachable.

On failure one line says which check failed and why, and the exit status is 1.`,
		Example: `  sigil verify-blob release.tar.gz --bundle release.tar.gz.sigstore.json \
    --certificate-identity https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.2.3 \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com \
    --trusted-root trusted_root.json

  sigil verify-blob sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf \
    --bundle a.txt.sigstore.json --certificate-identity-regexp '^https://github.com/org/' \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json

  sigil verify-blob app.bin --bundle app.bin.sigstore.json --key cosign.pub --trusted-root trusted_root.json

  # A detached signature and certificate, the log entry looked up online
  sigil verify-blob app.bin --signature app.bin.sig --certificate app.bin.pem \
    --certificate-identity release@example.com --certificate-oidc-issuer https://accounts.example.com

  # policy.yaml:
  #   identities: [{issuer: https://token.actions.githubusercontent.com, subjectRegExp: '^https://github.com/org/'}]
  #   conditions:
  #     - name: built from a tag
  #       expression: certificate.sourceRepositoryRef.startsWith("refs/tags/v")
  sigil verify-blob app.bin --bundle app.bin.sigstore.json --policy policy.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd, &f, args, "")
		},
	}
	f.register(c)
	f.registerBlobPolicyFile(c)
	f.registerDetached(c)
	return c
}

func newVerifyBlobAttestation() *cobra.Command {
	var f verifyFlags
	var typ string
	c := &cobra.Command{
		Use:   "verify-blob-attestation --bundle FILE [--type URI|NAME] [ARTIFACT|sha256:HEX] (identity flags) [--trusted-root FILE]",
		Short: "Verify an in-toto attestation bundle (DSSE) and its subject",
		Long: `Verify a bundle carrying a DSSE envelope with an in-toto statement.

When an artifact or digest is given, it must be one of the statement's subjects.
--type requires a predicate type: a URI, or one of custom, slsaprovenance,
slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln,
openvex. --policy adds a YAML policy: identities (or a key), a predicate type,
and CEL conditions over the statement that must all hold; a failure names the
condition. With --output json the verified statement is printed.`,
		Example: `  sigil verify-blob-attestation --bundle provenance.sigstore.json --type slsaprovenance1 app.tar.gz \
    --certificate-identity-regexp '^https://github.com/org/repo/' \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json

  # policy.yaml:
  #   identities: [{issuer: https://token.actions.githubusercontent.com, subjectRegExp: '^https://github.com/org/'}]
  #   predicateType: https://slsa.dev/provenance/v1
  #   conditions:
  #     - name: built by our builder
  #       expression: predicate.runDetails.builder.id == "https://github.com/org/builder"
  sigil verify-blob-attestation --bundle provenance.sigstore.json --policy policy.yaml app.tar.gz`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pt := ""
			if typ != "" {
				var err error
				if pt, err = intoto.PredicateTypeURI(typ); err != nil {
					return err
				}
			}
			return runVerify(cmd, &f, args, pt)
		},
	}
	f.register(c)
	f.registerPolicyFile(c)
	c.Flags().StringVar(&typ, "type", "", "required predicate type (URI or short name)")
	return c
}

func runVerify(cmd *cobra.Command, f *verifyFlags, args []string, predicateType string) error {
	if f.output != "text" && f.output != "json" && f.output != "" {
		return fmt.Errorf("unknown --output %q: use text or json", f.output)
	}
	var art verify.Artifact
	if len(args) == 0 {
		art.None = true
	} else {
		var err error
		if art, err = artifactArg(args[0]); err != nil {
			return err
		}
	}
	pol, pf, err := f.attestationPolicy(predicateType)
	if err != nil {
		return err
	}
	v, err := f.verifier(pol)
	if err != nil {
		return err
	}
	if f.signature == "" && (f.certificate != "" || f.rekorURL != "") {
		// A bundle carries its own certificate and log entry: a
		// certificate given beside it was ignored, and the bundle's
		// verified whatever it held.
		return errors.New("--certificate and --rekor-url go with --signature (a detached signature); a bundle carries its certificate and log entry")
	}
	var b *bundle.Bundle
	if f.signature != "" {
		b, art, err = f.detachedBundle(cmd.Context(), art, pol)
	} else {
		b, err = f.loadBundle()
	}
	if err != nil {
		return err
	}
	if predicateType != "" || cmd.Name() == "verify-blob-attestation" {
		if b.Envelope == nil {
			return errors.New("the bundle carries a message signature, not an attestation; use verify-blob")
		}
	}
	res, err := v.Verify(b, art, pol)
	if err != nil {
		var ve *verify.Error
		if pol.Key != nil && !f.ignoreTlog && len(b.TlogEntries) == 0 && errors.As(err, &ve) && ve.Check == verify.CheckTlog {
			return fmt.Errorf("%w (a bundle signed with --no-tlog-upload verifies with --insecure-ignore-tlog, at the current time)", err)
		}
		if errors.Is(err, verify.ErrNoTrustedLogs) {
			return fmt.Errorf("%w (the trusted root of one host of a split deployment? merge the hosts' parts with sigil tuf merge; a deployment without logs verifies with --tlog-threshold -1)", err)
		}
		return err
	}
	if pf != nil {
		in := policy.Input{Certificate: res.Signature.Certificate}
		if b.Envelope != nil {
			// Without an artifact, a DSSE payload of another type verifies;
			// it must not be read as the statement the conditions judge.
			if res.Statement == nil && len(pf.Conditions) > 0 {
				return fmt.Errorf("couldn't evaluate the policy: the DSSE payload type is %q, not an in-toto statement (%s)", b.Envelope.PayloadType, intoto.PayloadType)
			}
			in.Statement = b.Envelope.Payload
		}
		if err := pf.Evaluate(in); err != nil {
			return err
		}
	}
	return report(cmd, f.output, res)
}
