package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/oci"
	"sigil.dev/sigil/policy"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/verify"
)

func init() {
	register(newSignImage)
	register(newAttestImage)
	register(newVerifyImage)
	register(newVerifyImageAttestation)
	register(newTree)
	register(newDownload)
}

// registryFlags say how to reach registries.
type registryFlags struct {
	insecure bool
	timeout  time.Duration
}

func (f *registryFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&f.insecure, "allow-insecure-registry", false, "allow plain HTTP and TLS without certificate verification (registries on loopback and private addresses use HTTP anyway)")
	c.Flags().DurationVar(&f.timeout, "registry-timeout", 3*time.Minute, "time limit for the whole command (registry requests and, when signing, the signing services), retries included")
}

// context bounds the command's registry work.
func (f *registryFlags) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	if f.timeout <= 0 {
		return context.WithCancel(signContext(cmd))
	}
	return context.WithTimeout(signContext(cmd), f.timeout)
}

// client returns a registry client. Credentials come from the docker
// config ($DOCKER_CONFIG, ~/.docker/config.json) and its credential
// helpers; transient errors are retried.
func (f *registryFlags) client() *oci.Client {
	return oci.New(oci.Options{Insecure: f.insecure, UserAgent: "sigil/" + Version})
}

// resolve parses and resolves an image argument to a digest, warning when
// it was a tag, and picks a platform of an index when asked.
func resolveImage(ctx context.Context, cmd *cobra.Command, c *oci.Client, arg, platform string) (name.Digest, error) {
	ref, err := c.ParseReference(arg)
	if err != nil {
		return name.Digest{}, err
	}
	d, tagged, err := c.Resolve(ctx, ref)
	if err != nil {
		return name.Digest{}, err
	}
	if tagged {
		fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %s is a tag, which can move; using its digest %s (pass the digest to be sure)\n", arg, d)
	}
	if platform != "" {
		if d, err = c.Platform(ctx, d, platform); err != nil {
			return name.Digest{}, err
		}
	}
	return d, nil
}

func parseAnnotations(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("annotation %q: want KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

// imageSignFlags are the flags of sign and attest.
type imageSignFlags struct {
	sign        signFlags
	registry    registryFlags
	format      string
	recursive   bool
	annotations []string
}

func (f *imageSignFlags) register(c *cobra.Command) {
	f.sign.register(c)
	f.registry.register(c)
	c.Flags().StringVar(&f.format, "format", string(oci.FormatReferrers), "where to store: referrers (a bundle v0.3 as an OCI 1.1 referrer, cosign v3's default; the referrers tag schema when the registry has no referrers API), legacy (the sha256-<hex>.sig/.att tag, cosign v2's format) or both")
	c.Flags().BoolVarP(&f.recursive, "recursive", "r", false, "for a multi-platform index, also sign every platform manifest")
}

// signer returns the image signer and the manifests to sign: every image
// argument, resolved to its digest, and with --recursive the manifests of
// each index.
func (f *imageSignFlags) signer(ctx context.Context, cmd *cobra.Command, args []string) (*oci.Signer, []name.Digest, error) {
	format, err := oci.ParseFormat(f.format)
	if err != nil {
		return nil, nil, err
	}
	ann, err := parseAnnotations(f.annotations)
	if err != nil {
		return nil, nil, err
	}
	if format != oci.FormatReferrers {
		// The legacy format carries a Rekor v1 entry with its SET.
		f.sign.rekorVersions = []uint32{1}
	}
	s, err := f.sign.signer(cmd)
	if err != nil {
		return nil, nil, err
	}
	s.Token = cachedToken(s.Token)
	c := f.registry.client()
	var all []name.Digest
	seen := map[string]bool{}
	for _, arg := range args {
		d, err := resolveImage(ctx, cmd, c, arg, "")
		if err != nil {
			return nil, nil, err
		}
		ms, err := c.Manifests(ctx, d, f.recursive)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range ms {
			if !seen[m.String()] {
				seen[m.String()] = true
				all = append(all, m)
			}
		}
	}
	return &oci.Signer{Client: c, Signer: s, Format: format, Annotations: ann}, all, nil
}

// cachedToken asks for an identity token once per command (a browser
// sign-in must not repeat for every platform manifest).
func cachedToken(src func(context.Context) (string, error)) func(context.Context) (string, error) {
	if src == nil {
		return nil
	}
	var mu sync.Mutex
	var tok string
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if tok != "" {
			if _, err := sign.TokenSubject(tok); err == nil {
				return tok, nil
			}
		}
		t, err := src(ctx)
		if err == nil {
			tok = t
		}
		return t, err
	}
}

// printWritten prints what was stored, as it is stored.
func printWritten(cmd *cobra.Command, written []oci.Written) {
	w := cmd.ErrOrStderr()
	for _, x := range written {
		who := ""
		if r := x.Result; r != nil {
			if r.Identity != nil {
				who = fmt.Sprintf(" by %s (issuer %s)", r.Identity.SubjectAlternativeName, r.Identity.Issuer)
			} else if r.Verified != nil {
				who = " by key " + r.Verified.Signature.PublicKeyID
			}
		}
		where := "referrer"
		if x.Scheme == oci.SchemeTag {
			where = "tag"
		}
		fmt.Fprintf(w, "Signed %s%s; %s %s", x.Image, who, where, x.Location)
		if x.Result != nil && x.Result.Verified != nil {
			for _, e := range x.Result.Verified.TlogEntries {
				// One URL may serve both APIs, each with its own
				// indices (as sign-blob says).
				api := "v1"
				if rekor.IsV2Entry(e.Kind, e.Version) {
					api = "v2"
				}
				fmt.Fprintf(w, "; Rekor %s log %s index %d", api, e.LogURL, e.LogIndex)
			}
		}
		fmt.Fprintln(w)
	}
}

// signAll signs every manifest, printing each signature as it is stored;
// after a failure it says which manifests were signed and which not.
func signAll(cmd *cobra.Command, all []name.Digest, sign func(name.Digest) ([]oci.Written, error)) error {
	var done []string
	for i, d := range all {
		w, err := sign(d)
		printWritten(cmd, w)
		if err != nil {
			if len(all) == 1 {
				return err
			}
			var left []string
			for _, x := range all[i:] {
				left = append(left, x.DigestStr())
			}
			return fmt.Errorf("%w (%d of %d manifests signed; not signed: %s)", err, len(done), len(all), strings.Join(left, ", "))
		}
		done = append(done, d.DigestStr())
	}
	return nil
}

func newSignImage() *cobra.Command {
	var f imageSignFlags
	c := &cobra.Command{
		Use:   "sign IMAGE...",
		Short: "Sign a container image and store the signature in its registry",
		Long: `Sign a container image by digest and store the signature beside it, where
cosign finds it.

A tag is resolved to its digest first, with a warning naming the digest:
the signature is for that digest, not for whatever the tag names later.

--format referrers (the default, as in cosign v3) signs an in-toto statement
(predicate https://sigstore.dev/cosign/sign/v1, subject the image digest) as
DSSE and stores the bundle v0.3 as an OCI 1.1 referrer of the image; on a
registry without the referrers API it maintains the referrers tag schema
index (sha256-<hex>). --format legacy stores a simple-signing signature as a
layer of the sha256-<hex>.sig tag, cosign v2's format (it needs a Rekor v1
log). --format both writes both, for verifiers of either generation.

The .sig tag and the referrers tag schema index are read, added to and
written back, so signers of one image at once can drop each other's
signatures (cosign has the same race). sigil reads the tag back a moment
after writing and adds its signature again if it was dropped; if it keeps
being dropped, sign fails ("lost to a concurrent writer") rather than
report it stored.

Keyless by default, like sign-blob; --key signs with a key file. Registry
credentials come from the docker config and its credential helpers
(docker login).`,
		Example: `  sigil sign ghcr.io/org/app@sha256:4f5e…
  sigil sign ghcr.io/org/app:v1.2.3 --recursive --format both -a git-sha=$(git rev-parse HEAD)
  SIGIL_PASSWORD= sigil sign --key cosign.key --format legacy localhost:5000/app@sha256:4f5e…`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := f.registry.context(cmd)
			defer cancel()
			s, all, err := f.signer(ctx, cmd, args)
			if err != nil {
				return err
			}
			return signAll(cmd, all, func(d name.Digest) ([]oci.Written, error) { return s.Sign(ctx, d) })
		},
	}
	f.register(c)
	c.Flags().StringArrayVarP(&f.annotations, "annotations", "a", nil, "KEY=VALUE: an extra signed claim (repeatable); verify can require it with -a")
	return c
}

func newAttestImage() *cobra.Command {
	var f imageSignFlags
	var predicate, typ string
	c := &cobra.Command{
		Use:   "attest IMAGE... --predicate FILE --type TYPE",
		Short: "Sign an in-toto attestation about a container image and store it in its registry",
		Long: `Make an in-toto Statement v1 whose subject is the image digest and whose
predicate is the JSON in --predicate, sign it as DSSE and store it beside the
image: as a bundle v0.3 referrer (--format referrers, the default, as in
cosign v3) or as a layer of the sha256-<hex>.att tag (--format legacy, cosign
v2's format), or both.

--type is a predicate type URI or one of: custom, slsaprovenance,
slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln,
openvex. With custom (the default), the predicate file, JSON or not, is
wrapped as cosign wraps it: {"Data": "<file content>", "Timestamp":
"<RFC 3339>"}; any other type takes a JSON object.`,
		Example: `  sigil attest ghcr.io/org/app@sha256:4f5e… --predicate provenance.json --type slsaprovenance1
  sigil attest ghcr.io/org/app:v1.2.3 --predicate sbom.spdx.json --type spdxjson --recursive --format both`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if predicate == "" {
				return errors.New("no predicate: pass --predicate FILE")
			}
			pt, err := intoto.PredicateTypeURI(typ)
			if err != nil {
				return err
			}
			raw, err := readSmallFile("predicate", predicate, maxPredicate)
			if err != nil {
				return err
			}
			pred, err := predicateJSON(pt, raw)
			if err != nil {
				return err
			}
			ctx, cancel := f.registry.context(cmd)
			defer cancel()
			s, all, err := f.signer(ctx, cmd, args)
			if err != nil {
				return err
			}
			return signAll(cmd, all, func(d name.Digest) ([]oci.Written, error) { return s.Attest(ctx, d, pt, pred) })
		},
	}
	f.register(c)
	c.Flags().StringVar(&predicate, "predicate", "", "predicate JSON file (required)")
	c.Flags().StringVar(&typ, "type", "custom", "predicate type: a URI or a short name")
	return c
}

// predicateJSON returns the predicate of a statement of predicateType
// (a URI): for cosign's generic predicate type (--type custom) the file,
// whatever it holds, wrapped as cosign wraps it ({"Data": "<text>",
// "Timestamp": "<RFC 3339>"}, cosign's COSIGN_PREDICATE_SPEC); for any
// other type the file, which must be a JSON object, as in-toto requires.
// Both are decided before anything is signed or logged.
func predicateJSON(predicateType string, raw []byte) (json.RawMessage, error) {
	if custom, _ := intoto.PredicateTypeURI("custom"); predicateType == custom {
		return json.Marshal(map[string]string{"Data": string(raw), "Timestamp": time.Now().UTC().Format(time.RFC3339)})
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		return t, nil
	}
	return nil, errors.New("the predicate is not a JSON object, as in-toto requires (only --type custom wraps other content, as text)")
}

// imageVerifyFlags are the flags of verify and verify-attestation.
type imageVerifyFlags struct {
	verify   verifyFlags
	registry registryFlags
	platform string
	workers  int
}

func (f *imageVerifyFlags) register(c *cobra.Command) {
	f.verify.registerTrust(c)
	f.registry.register(c)
	c.Flags().StringVar(&f.platform, "platform", "", "for a multi-platform index, verify the manifest of this platform (os/arch[/variant]) instead of the index")
	c.Flags().IntVar(&f.workers, "max-workers", 10, "images verified at once")
}

// check refuses malformed flag values before any registry is asked (an
// unknown --output found after verifying hid the outcome).
func (f *imageVerifyFlags) check() error {
	switch f.verify.output {
	case "", "text", "json":
	default:
		return fmt.Errorf("unknown --output %q: use text or json", f.verify.output)
	}
	return checkPlatform(f.platform)
}

// checkPlatform refuses a malformed --platform (an empty one means none).
func checkPlatform(platform string) error {
	if platform == "" {
		return nil
	}
	_, err := oci.ParsePlatform(platform)
	return err
}

// imageResult is the JSON output for one verified signature or attestation.
type imageResult struct {
	Image         string          `json:"image"`
	Scheme        oci.Scheme      `json:"scheme"`
	Source        string          `json:"source"`
	PredicateType string          `json:"predicateType,omitempty"`
	Payload       json.RawMessage `json:"payload,omitempty"` // simple-signing payload
	Statement     json.RawMessage `json:"statement,omitempty"`
	Result        *verify.Result  `json:"verification"`
}

// forEachImage runs check for every image argument with bounded
// concurrency and prints the outcome in argument order. It fails if any
// image failed.
func (f *imageVerifyFlags) forEachImage(cmd *cobra.Command, c *oci.Client, args []string, what string, check func(ctx context.Context, d name.Digest) ([]*oci.Verified, error)) error {
	ctx, cancel := f.registry.context(cmd)
	defer cancel()
	type outcome struct {
		d   name.Digest
		vs  []*oci.Verified
		err error
	}
	out := make([]outcome, len(args))
	workers := f.workers
	if workers <= 0 {
		workers = 1
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	var warnMu sync.Mutex
	for i, arg := range args {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			warn := &lockedWriter{mu: &warnMu, w: cmd.ErrOrStderr()}
			wc := &cobra.Command{}
			wc.SetErr(warn)
			d, err := resolveImage(ctx, wc, c, arg, f.platform)
			if err != nil {
				out[i] = outcome{err: err}
				return
			}
			vs, err := check(ctx, d)
			out[i] = outcome{d: d, vs: vs, err: err}
		}()
	}
	wg.Wait()
	var results []imageResult
	failed := 0
	for i, o := range out {
		if o.err != nil {
			failed++
			if len(args) > 1 {
				fmt.Fprintf(cmd.ErrOrStderr(), "Error: %s: %s\n", args[i], errorText(o.err))
			}
			continue
		}
		for _, v := range o.vs {
			results = append(results, imageResult{Image: o.d.String(), Scheme: v.Scheme, Source: v.Source, PredicateType: v.PredicateType,
				Payload: rawIf(v.SimpleSigning != nil, v.Raw), Statement: v.Statement, Result: v.Result})
		}
		if f.verify.output != "json" {
			fmt.Fprintf(cmd.ErrOrStderr(), "Verified OK: %s: %s\n", o.d, describeVerified(o.vs, what))
		}
	}
	if f.verify.output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if results == nil {
			results = []imageResult{}
		}
		if err := enc.Encode(results); err != nil {
			return err
		}
	}
	switch {
	case failed == 0:
		return nil
	case len(args) == 1:
		return out[0].err
	}
	return fmt.Errorf("%d of %d images failed verification", failed, len(args))
}

func rawIf(ok bool, b []byte) json.RawMessage {
	if !ok || !json.Valid(b) {
		return nil
	}
	return b
}

// describeVerified summarises the verified signatures of one image.
func describeVerified(vs []*oci.Verified, what string) string {
	var parts []string
	for _, v := range vs {
		who := ""
		if c := v.Result.Signature.Certificate; c != nil {
			who = fmt.Sprintf("%s (issuer %s)", c.SubjectAlternativeName, c.Issuer)
		} else {
			who = "key " + v.Result.Signature.PublicKeyID
		}
		s := fmt.Sprintf("%s signed by %s [%s]", what, who, v.Scheme)
		if v.Kind == oci.KindAttestation {
			s = fmt.Sprintf("%s %s signed by %s [%s]", what, v.PredicateType, who, v.Scheme)
		}
		for _, t := range v.Result.VerifiedTimestamps {
			s += ", " + timeLabel(t)
			break
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newVerifyImage() *cobra.Command {
	var f imageVerifyFlags
	var annotations []string
	c := &cobra.Command{
		Use:   "verify IMAGE... (--certificate-identity ID | --certificate-identity-regexp RE) (--certificate-oidc-issuer URL | --certificate-oidc-issuer-regexp RE) [--trusted-root FILE]",
		Short: "Verify the signatures of container images, in either storage format",
		Long: `Verify that an accepted identity (or --key) signed each image.

Signatures are looked for in both places cosign stores them — the OCI 1.1
referrers of the digest (bundle v0.3, cosign v3; or the referrers tag
schema) and the sha256-<hex>.sig tag (cosign v2) — and each is checked
offline against the trusted root, like verify-blob: signature, log entry
and SET or inclusion proof, timestamps, certificate chain and SCT, identity.
A signature also has to name this digest (a signature copied from another
image is refused) and carry every -a annotation. One that verifies is
enough.

A tag is resolved to its digest, with a warning. For a multi-platform index,
the index's own signature is verified; --platform os/arch verifies that
platform's manifest instead. Several images are verified concurrently
(--max-workers); the exit status is 1 if any fails.`,
		Example: `  sigil verify ghcr.io/org/app@sha256:4f5e… \
    --certificate-identity https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.2.3 \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json

  sigil verify ghcr.io/org/app:v1.2.3 --platform linux/arm64 -a git-sha=4f5e… \
    --certificate-identity-regexp '^https://github\.com/org/app/' \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json -o json

  sigil verify --key cosign.pub --trusted-root trusted_root.json reg.example/app@sha256:4f5e… reg.example/db@sha256:9a8b…`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			ann, err := parseAnnotations(annotations)
			if err != nil {
				return err
			}
			pol, err := f.verify.policy()
			if err != nil {
				return err
			}
			v, err := f.verify.verifier(pol)
			if err != nil {
				return err
			}
			cl := f.registry.client()
			iv := &oci.Verifier{Client: cl, Verifier: v}
			return f.forEachImage(cmd, cl, args, "signature", func(ctx context.Context, d name.Digest) ([]*oci.Verified, error) {
				vs, err := iv.VerifySignatures(ctx, d, pol, ann)
				if f.platform != "" && errors.Is(err, oci.ErrNoSignatures) {
					err = fmt.Errorf("%w (a platform manifest is signed only when its index was signed with --recursive, or itself)", err)
				}
				return vs, err
			})
		},
	}
	f.register(c)
	c.Flags().StringArrayVarP(&annotations, "annotations", "a", nil, "KEY=VALUE: the signature must carry this signed annotation (repeatable)")
	return c
}

func newVerifyImageAttestation() *cobra.Command {
	var f imageVerifyFlags
	var typ string
	c := &cobra.Command{
		Use:   "verify-attestation IMAGE... [--type TYPE] [--policy FILE] (identity flags) [--trusted-root FILE]",
		Short: "Verify in-toto attestations of container images, in either storage format, and policy conditions over them",
		Long: `Verify that an accepted identity (or --key) attested to each image.

Attestations are looked for as OCI 1.1 referrers (bundle v0.3, cosign v3)
and in the sha256-<hex>.att tag (cosign v2), verified offline against the
trusted root, and their statement's subject must be this digest. --type
(a URI, or one of custom, slsaprovenance, slsaprovenance02, slsaprovenance1,
spdx, spdxjson, cyclonedx, link, vuln, openvex) keeps only attestations of
that predicate type; without it every attestation counts.

--policy FILE adds CEL conditions over the statement; every verified
attestation must satisfy them all, and a failure names the condition. The
policy may also name the signers, instead of the identity flags:

  identities:                 # any may match; or key: cosign.pub
    - issuer: https://token.actions.githubusercontent.com
      subjectRegExp: ^https://github\.com/org/app/
  predicateType: slsaprovenance1
  conditions:                 # CEL; variables: statement, predicate,
                              # predicateType, subject, certificate, now
    - name: github-runner
      expression: predicate.runDetails.builder.id == "https://github.com/actions/runner/github-hosted"
      message: not built on a GitHub-hosted runner

With --output json the verified statements are printed.`,
		Example: `  sigil verify-attestation ghcr.io/org/app@sha256:4f5e… --type slsaprovenance1 \
    --certificate-identity-regexp '^https://github\.com/org/app/' \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json

  sigil verify-attestation ghcr.io/org/app:v1.2.3 --policy provenance-policy.yaml --trusted-root trusted_root.json -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			pt := ""
			if typ != "" {
				var err error
				if pt, err = intoto.PredicateTypeURI(typ); err != nil {
					return err
				}
			}
			pol, pf, err := f.verify.attestationPolicy(pt)
			if err != nil {
				return err
			}
			v, err := f.verify.verifier(pol)
			if err != nil {
				return err
			}
			cl := f.registry.client()
			iv := &oci.Verifier{Client: cl, Verifier: v}
			return f.forEachImage(cmd, cl, args, "attestation", func(ctx context.Context, d name.Digest) ([]*oci.Verified, error) {
				vs, err := iv.VerifyAttestations(ctx, d, pol)
				if err != nil || pf == nil {
					return vs, err
				}
				for _, x := range vs {
					if err := pf.Evaluate(policy.Input{Statement: x.Statement, Certificate: x.Result.Signature.Certificate}); err != nil {
						return nil, fmt.Errorf("%s: %w", x.Source, err)
					}
				}
				return vs, nil
			})
		},
	}
	f.register(c)
	f.verify.registerPolicyFile(c)
	c.Flags().StringVar(&typ, "type", "", "predicate type the attestations must have (URI or short name)")
	return c
}

func newTree() *cobra.Command {
	var rf registryFlags
	var recursive bool
	var output string
	c := &cobra.Command{
		Use:   "tree IMAGE",
		Short: "List the signatures, attestations, SBOMs and other artifacts attached to an image",
		Long: `List what is attached to an image in both storage schemes: the legacy
sha256-<hex>.sig, .att and .sbom tags (cosign v2) and the OCI 1.1 referrers
(cosign v3 bundles and any other artifact; read from the referrers tag
schema when the registry has no referrers API). Nothing is verified.

For a multi-platform index, --recursive lists the attachments of every
platform manifest too.`,
		Example: `  sigil tree ghcr.io/org/app:v1.2.3
  sigil tree ghcr.io/org/app@sha256:4f5e… --recursive -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown --output %q: use text or json", output)
			}
			ctx, cancel := rf.context(cmd)
			defer cancel()
			cl := rf.client()
			d, err := resolveImage(ctx, cmd, cl, args[0], "")
			if err != nil {
				return err
			}
			all, err := cl.Manifests(ctx, d, recursive)
			if err != nil {
				return err
			}
			var trees []*oci.Attachments
			for _, m := range all {
				a, err := cl.Discover(ctx, m, true)
				if err != nil {
					return err
				}
				trees = append(trees, a)
			}
			if output == "json" {
				type item struct {
					Subject  string          `json:"subject"`
					Attached []*oci.Attached `json:"attached"`
					Errors   []string        `json:"errors,omitempty"`
				}
				var out []item
				for _, t := range trees {
					it := item{Subject: t.Subject.String(), Attached: t.Items}
					if it.Attached == nil {
						it.Attached = []*oci.Attached{}
					}
					for _, e := range t.Errors {
						it.Errors = append(it.Errors, e.Error())
					}
					out = append(out, it)
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			for _, t := range trees {
				printTree(cmd.OutOrStdout(), t)
			}
			return nil
		},
	}
	rf.register(c)
	c.Flags().BoolVarP(&recursive, "recursive", "r", false, "also list the attachments of every manifest of an index")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}

func printTree(w io.Writer, t *oci.Attachments) {
	fmt.Fprintf(w, "%s\n", t.Subject)
	if len(t.Items) == 0 && len(t.Errors) == 0 {
		fmt.Fprintln(w, "└── nothing attached")
		return
	}
	n := len(t.Items) + len(t.Errors)
	i := 0
	branch := func() (string, string) {
		i++
		if i == n {
			return "└── ", "    "
		}
		return "├── ", "│   "
	}
	for _, a := range t.Items {
		b, pad := branch()
		kind := string(a.Kind)
		switch {
		case a.Error != "" && (a.Kind == "" || a.Kind == oci.KindOther):
			kind = "unknown"
		case kind == "":
			kind = "bundle"
		}
		switch a.Scheme {
		case oci.SchemeTag:
			fmt.Fprintf(w, "%s%ss (tag %s, %s)\n", b, kind, a.Ref.(name.Tag).TagStr(), plural(len(a.Manifest.Layers), "layer"))
			for j, l := range a.Manifest.Layers {
				lb := "├── "
				if j == len(a.Manifest.Layers)-1 {
					lb = "└── "
				}
				extra := ""
				if pt := l.Annotations[oci.AnnotationPredicateType]; pt != "" {
					extra = " " + pt
				}
				if _, ok := l.Annotations[oci.AnnotationCertificate]; ok {
					extra += " (certificate)"
				}
				fmt.Fprintf(w, "%s%s%s %s%s\n", pad, lb, l.Digest, l.MediaType, extra)
			}
		default:
			at := a.ArtifactType
			created := a.Descriptor.Annotations[oci.AnnotationCreated]
			if m := a.Manifest; m != nil {
				if m.ArtifactType != "" {
					at = m.ArtifactType
				}
				if created == "" {
					created = m.Annotations[oci.AnnotationCreated]
				}
			}
			if at == "" {
				at = "no artifact type"
			}
			extra := ""
			if a.PredicateType != "" {
				extra = " " + a.PredicateType
			}
			if created != "" {
				extra += " created " + created
			}
			if a.Error != "" {
				extra += ": " + strings.ReplaceAll(a.Error, "\n", "; ")
			}
			fmt.Fprintf(w, "%s%s referrer %s (%s)%s\n", b, kind, a.Descriptor.Digest, at, extra)
		}
	}
	for _, e := range t.Errors {
		b, _ := branch()
		fmt.Fprintf(w, "%serror: %v\n", b, strings.ReplaceAll(e.Error(), "\n", "; "))
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func newDownload() *cobra.Command {
	c := &cobra.Command{
		Use:   "download signature|attestation IMAGE",
		Short: "Print the signatures or attestations attached to an image, as stored",
	}
	c.AddCommand(newDownloadKind(oci.KindSignature), newDownloadKind(oci.KindAttestation))
	return c
}

// downloaded is one line of download's output.
type downloaded struct {
	Scheme        oci.Scheme        `json:"scheme"`
	Source        string            `json:"source"`
	PredicateType string            `json:"predicateType,omitempty"`
	MediaType     string            `json:"mediaType"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	// Payload is the legacy layer blob (simple-signing payload or DSSE
	// envelope), base64.
	Payload string `json:"payload,omitempty"`
	// Bundle is the Sigstore bundle: as stored (referrers), or converted
	// from the legacy annotations.
	Bundle json.RawMessage `json:"bundle,omitempty"`
	Error  string          `json:"error,omitempty"`
}

func newDownloadKind(kind oci.Kind) *cobra.Command {
	var rf registryFlags
	var platform, typ string
	c := &cobra.Command{
		Use:   string(kind) + " IMAGE",
		Short: "Print the " + string(kind) + "s attached to an image, one JSON object per line (nothing is verified)",
		Long: `Print every ` + string(kind) + ` attached to the image in either storage scheme, one JSON
object per line: scheme, source (tag and layer, or referrer), media type, the
legacy layer's payload and annotations, and the Sigstore bundle (as stored,
or converted from the legacy annotations). Nothing is verified: use verify
or verify-attestation for that.`,
		Example: `  sigil download ` + string(kind) + ` ghcr.io/org/app@sha256:4f5e…
  sigil download ` + string(kind) + ` ghcr.io/org/app:v1.2.3 --platform linux/amd64 | jq .bundle`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkPlatform(platform); err != nil {
				return err
			}
			ctx, cancel := rf.context(cmd)
			defer cancel()
			cl := rf.client()
			pt := ""
			if typ != "" {
				var err error
				if pt, err = intoto.PredicateTypeURI(typ); err != nil {
					return err
				}
			}
			d, err := resolveImage(ctx, cmd, cl, args[0], platform)
			if err != nil {
				return err
			}
			found, listErrs, err := cl.Find(ctx, d, kind)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			n := 0
			var others []string
			for _, f := range found {
				if pt != "" && f.PredicateType != pt {
					others = append(others, f.PredicateType)
					continue
				}
				o := downloaded{Scheme: f.Scheme, Source: f.Source, PredicateType: f.PredicateType, MediaType: f.MediaType}
				if f.Scheme == oci.SchemeTag || !strings.HasPrefix(f.MediaType, "application/vnd.dev.sigstore.bundle") {
					o.Annotations = f.Annotations
					o.Payload = base64.StdEncoding.EncodeToString(f.Raw)
				}
				if f.Bundle != nil {
					if b, err := f.Bundle.Marshal(); err == nil {
						o.Bundle = b
					}
				}
				if f.Err != nil {
					o.Error = f.Err.Error()
				}
				if err := enc.Encode(o); err != nil {
					return err
				}
				n++
			}
			for _, e := range listErrs {
				fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %v\n", e)
			}
			switch {
			case n > 0:
			case len(others) > 0:
				return oci.NoneOfType(d, pt, others, nil)
			case kind == oci.KindAttestation:
				return fmt.Errorf("%w: no attestations are attached to %s", oci.ErrNoAttestations, d)
			default:
				return fmt.Errorf("%w: no signatures are attached to %s", oci.ErrNoSignatures, d)
			}
			return nil
		},
	}
	rf.register(c)
	c.Flags().StringVar(&platform, "platform", "", "for a multi-platform index, the platform manifest (os/arch[/variant])")
	if kind == oci.KindAttestation {
		c.Flags().StringVar(&typ, "predicate-type", "", "only attestations of this predicate type (URI or short name)")
	}
	return c
}
