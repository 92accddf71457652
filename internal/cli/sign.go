package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/keyfile"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/sign"
)

func init() {
	registerCommand("sign-blob", newSignBlob)
	registerCommand("attest-blob", newAttestBlob)
	registerCommand("generate-key-pair", newGenerateKeyPair)
	registerCommand("public-key", newPublicKey)
}

func newPublicKey() *cobra.Command {
	var key string
	c := &cobra.Command{
		Use:   "public-key --key FILE|pkcs11:URI",
		Short: "Print the PEM public key of a signing key (file or PKCS#11), to verify with --key",
		Example: `  sigil public-key --key cosign.key > cosign.pub
  sigil public-key --key 'pkcs11:token=signing;object=release?module-path=/usr/lib/softhsm/libsofthsm2.so' > release.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if key == "" {
				return errors.New("no key: pass --key FILE or --key pkcs11:URI")
			}
			k, err := loadPrivateKey(cmd, key)
			if err != nil {
				return err
			}
			p, err := keyfile.PublicPEM(k.Public())
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(p)
			return err
		},
	}
	c.Flags().StringVar(&key, "key", "", "private key file or PKCS#11 URI")
	return c
}

func newSignBlob() *cobra.Command {
	var f signFlags
	var out string
	c := &cobra.Command{
		Use:   "sign-blob FILE|- --bundle OUT",
		Short: "Sign a file keyless (or with --key) and write a Sigstore bundle",
		Long: `Sign a file and write a v0.3 Sigstore bundle.

Keyless (the default): an ephemeral key gets a ten-minute certificate from the
CA for your OIDC identity, the signature is recorded in the transparency log(s)
and timestamped as the signing config says, and the bundle is verified against
the trusted root before it is written. The identity token comes from
--identity-token, SIGSTORE_ID_TOKEN, the CI environment (GitHub Actions,
SIGSTORE_ID_TOKEN_FILE), or a browser / device sign-in.

With --key the bundle names the key instead of a certificate.`,
		Example: `  sigil sign-blob release.tar.gz --bundle release.tar.gz.sigstore.json
  SIGSTORE_ID_TOKEN=$(cat token.jwt) sigil sign-blob app.bin --bundle app.sigstore.json --trusted-root trusted_root.json --signing-config signing_config.json
  SIGIL_PASSWORD= sigil sign-blob --key cosign.key notes.txt --bundle notes.sigstore.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("no output: pass --bundle FILE")
			}
			if err := notAnInput(out, args[0]); err != nil {
				return err
			}
			s, err := f.blobSigner(cmd)
			if err != nil {
				return err
			}
			r, size, err := openArtifact(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			res, err := s.SignBlob(signContext(cmd), withProgress(r, size, cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			return writeBundle(cmd, out, res)
		},
	}
	f.register(c)
	c.Flags().StringVar(&out, "bundle", "", "where to write the bundle, - for standard output (required)")
	return c
}

func newAttestBlob() *cobra.Command {
	var f signFlags
	var out, predicate, typ, stmt string
	c := &cobra.Command{
		Use:   "attest-blob FILE --predicate P --type T --bundle OUT",
		Short: "Sign an in-toto attestation about a file (DSSE) and write a Sigstore bundle",
		Long: `Make an in-toto Statement v1 whose subject is the file (name and SHA-256) and whose
predicate is the JSON in --predicate, sign it as a DSSE envelope, and write a
bundle. --type is a predicate type URI or one of: custom, slsaprovenance,
slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln,
openvex. With custom (the default), the predicate file, JSON or not, is
wrapped as cosign wraps it: {"Data": "<file content>", "Timestamp":
"<RFC 3339>"}; any other type takes a JSON object. With --statement, a complete
in-toto statement is signed as given (no FILE).`,
		Example: `  sigil attest-blob app.tar.gz --predicate provenance.json --type slsaprovenance1 --bundle app.intoto.sigstore.json
  sigil attest-blob sbom-subject.bin --predicate sbom.spdx.json --type spdxjson --bundle sbom.sigstore.json
  sigil attest-blob --statement statement.json --bundle statement.sigstore.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("no output: pass --bundle FILE")
			}
			if err := notAnInput(out, append([]string{predicate, stmt}, args...)...); err != nil {
				return err
			}
			var st []byte
			switch {
			case stmt != "" && (len(args) > 0 || predicate != ""):
				return errors.New("--statement is a complete statement: give no FILE and no --predicate")
			case stmt != "":
				var raw []byte
				var err error
				if stmt == "-" {
					// - is standard input, as for FILE and --predicate.
					if raw, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxPredicate+1)); err != nil {
						return fmt.Errorf("couldn't read the statement from standard input: %w", err)
					}
					if len(raw) > maxPredicate {
						return fmt.Errorf("the statement on standard input is larger than %d MiB", maxPredicate>>20)
					}
				} else if raw, err = readSmallFile("statement", stmt, maxPredicate); err != nil {
					return err
				}
				if _, err := intoto.Parse(raw); err != nil {
					return err
				}
				st = raw
			case len(args) == 0:
				return errors.New("no artifact: give FILE (or --statement)")
			case predicate == "":
				return errors.New("no predicate: pass --predicate FILE")
			default:
				pt, err := intoto.PredicateTypeURI(typ)
				if err != nil {
					return err
				}
				var pred []byte
				if predicate == "-" {
					if args[0] == "-" {
						return errors.New("standard input can be the artifact or the predicate, not both")
					}
					if pred, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxPredicate+1)); err != nil {
						return fmt.Errorf("couldn't read predicate from standard input: %w", err)
					}
					if len(pred) > maxPredicate {
						return fmt.Errorf("the predicate on standard input is larger than %d MiB", maxPredicate>>20)
					}
				} else if pred, err = readSmallFile("predicate", predicate, maxPredicate); err != nil {
					return err
				}
				if st, err = statement(args[0], pt, pred); err != nil {
					return err
				}
			}
			s, err := f.blobSigner(cmd)
			if err != nil {
				return err
			}
			res, err := s.SignDSSE(signContext(cmd), intoto.PayloadType, st)
			if err != nil {
				return err
			}
			return writeBundle(cmd, out, res)
		},
	}
	f.register(c)
	c.Flags().StringVar(&out, "bundle", "", "where to write the bundle, - for standard output (required)")
	c.Flags().StringVar(&predicate, "predicate", "", "predicate JSON file, - for standard input (required unless --statement)")
	c.Flags().StringVar(&typ, "type", "custom", "predicate type: a URI or a short name")
	c.Flags().StringVar(&stmt, "statement", "", "sign this complete in-toto statement as given (- reads standard input)")
	return c
}

// maxPredicate bounds a predicate read from standard input.
const maxPredicate = 64 << 20

// statement builds the in-toto Statement v1 for a file.
func statement(path, predicateType string, predicate []byte) ([]byte, error) {
	r, _, err := openArtifact(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("couldn't read artifact: %w", err)
	}
	pred, err := predicateJSON(predicateType, predicate)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	if path == "-" {
		name = "-"
	}
	return json.Marshal(intoto.Statement{
		Type:          intoto.StatementV1,
		Subject:       []intoto.Subject{{Name: name, Digest: map[string]string{"sha256": hex.EncodeToString(h.Sum(nil))}}},
		PredicateType: predicateType,
		Predicate:     pred,
	})
}

// notAnInput refuses a bundle path that names one of the command's input
// files: writing the bundle there would replace the artifact (or the
// predicate or statement) with its own signature, after the log had
// recorded it.
//
// It also refuses a bundle path whose directory does not exist, that is
// a directory, or that cannot be written (a read-only directory): the
// signature would be logged and the bundle then be lost.
func notAnInput(out string, inputs ...string) error {
	if out == "-" { // standard output
		return nil
	}
	if d, err := os.Stat(filepath.Dir(out)); err != nil || !d.IsDir() {
		return fmt.Errorf("couldn't write the bundle to %s: %s is not a directory; create it first (nothing was signed)", out, filepath.Dir(out))
	}
	o, err := os.Stat(out)
	if err != nil {
		return writable(out, nil) // absent (or unreadable: the write reports it)
	}
	if o.IsDir() {
		return fmt.Errorf("couldn't write the bundle to %s: it is a directory; name a file in it (nothing was signed)", out)
	}
	for _, in := range inputs {
		if in == "" || in == "-" {
			continue
		}
		if i, err := os.Stat(in); err == nil && os.SameFile(o, i) {
			return fmt.Errorf("couldn't write the bundle to %s: it is the input file %s, which the bundle would replace; choose another --bundle", out, in)
		}
	}
	return writable(out, o)
}

// writable checks, changing nothing, that writeOutput can write out (o is
// what is there, nil for nothing): that a file can be created beside it,
// else that it is a file open for writing.
func writable(out string, o os.FileInfo) error {
	if o != nil && !o.Mode().IsRegular() {
		return nil // a device or a pipe, written directly
	}
	target := out
	if p, err := filepath.EvalSymlinks(out); err == nil {
		target = p
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*.tmp")
	if err == nil {
		f.Close()
		os.Remove(f.Name())
		return nil
	}
	if o != nil {
		if f, err := os.OpenFile(out, os.O_WRONLY, 0); err == nil {
			f.Close()
			return nil
		}
	}
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("couldn't write the bundle to %s: %s is not writable (%v); choose another --bundle (nothing was signed)", out, filepath.Dir(target), err)
}

func writeBundle(cmd *cobra.Command, path string, res *sign.Result) error {
	raw := res.JSON
	if raw == nil {
		var err error
		if raw, err = res.Bundle.Marshal(); err != nil {
			return err
		}
	}
	if path == "-" {
		if _, err := cmd.OutOrStdout().Write(append(raw, '\n')); err != nil {
			return fmt.Errorf("couldn't write bundle: %w", err)
		}
		path = "standard output"
	} else if err := writeOutput(path, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("couldn't write bundle: %w; the signature was made (and logged, if a log was used) but its bundle is lost: sign again once the bundle can be written (free space, permissions) or with another --bundle", err)
	}
	who := "key " + res.Verified.Signature.PublicKeyID
	if res.Identity != nil {
		who = fmt.Sprintf("%s (issuer %s)", res.Identity.SubjectAlternativeName, res.Identity.Issuer)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Signed by %s; bundle written to %s", who, path)
	for _, e := range res.Verified.TlogEntries {
		// One URL may serve both APIs, each with its own indices.
		api := "v1"
		if rekor.IsV2Entry(e.Kind, e.Version) {
			api = "v2"
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "; Rekor %s log %s index %d", api, e.LogURL, e.LogIndex)
	}
	fmt.Fprintln(cmd.ErrOrStderr())
	return nil
}

// writeOutput writes data to path whole: into a temporary file beside it,
// renamed over path. A reader (make, a verify) and another process writing
// the same path at the same time (make -j, CI jobs sharing a directory) see
// the old file or a whole new one, never a mix of two; a write that fails
// (a full disk) or is killed leaves no truncated file at path, and an
// earlier file there intact. A symbolic link is followed; what is not a
// regular file (/dev/stdout, a pipe) is written directly, and so is a file
// in a directory where no temporary file can be created. A new file gets
// perm less the umask, a replaced one keeps its mode.
func writeOutput(path string, data []byte, perm os.FileMode) error {
	target := path
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return os.WriteFile(path, data, perm) // a dangling link: create what it names
		}
	}
	fi, err := os.Stat(target)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return os.WriteFile(path, data, perm)
	case err == nil:
		perm = fi.Mode().Perm()
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	dir, base := filepath.Split(target)
	var f *os.File
	for range 100 {
		f, err = os.OpenFile(filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if errors.Is(err, fs.ErrPermission) && fi != nil {
		return os.WriteFile(path, data, perm) // a writable file in a read-only directory
	}
	if err != nil {
		return &fs.PathError{Op: "create", Path: path, Err: errors.Unwrap(err)}
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if fi != nil {
		err = f.Chmod(perm) // the replaced file's mode, not less the umask
	}
	if err == nil {
		_, err = f.Write(data)
	}
	// Not synced: the rename is what keeps readers and concurrent writers
	// from a part; after a power loss the bundle may be lost (as with a
	// plain write, cosign's too), and an fsync would add its latency to
	// every signature.
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		pe.Path = path // not the temporary file's name
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, target)
}

// writeNewFile creates path with data, failing if anything (a symbolic
// link too) is there; a file it could not write whole is removed.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

func newGenerateKeyPair() *cobra.Command {
	var prefix, alg string
	c := &cobra.Command{
		Use:   "generate-key-pair",
		Short: "Generate a password-encrypted signing key pair (cosign's format)",
		Long: `Write PREFIX.key (private key, encrypted with scrypt + secretbox as cosign does,
so cosign reads the key too) and PREFIX.pub. cosign v2.6 and v3.1 verify
key-signed bundles of P-256 keys (the default) only, not of P-384 or Ed25519
keys, which sigil signs and verifies. The password comes from
SIGIL_PASSWORD, else COSIGN_PASSWORD, else is asked twice; it may be empty.`,
		Example: `  sigil generate-key-pair
  SIGIL_PASSWORD=s3cret sigil generate-key-pair --output-key-prefix release`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := sign.NewKey(alg)
			if err != nil {
				return err
			}
			for _, p := range []string{prefix + ".key", prefix + ".pub"} {
				if _, err := os.Stat(p); err == nil {
					return fmt.Errorf("%s exists; remove it or choose another --output-key-prefix", p)
				}
			}
			pw, err := password(cmd, "Enter password for private key: ", true)
			if err != nil {
				return err
			}
			enc, err := keyfile.Encrypt(k, pw)
			if err != nil {
				return err
			}
			pub, err := keyfile.PublicPEM(k.Public())
			if err != nil {
				return err
			}
			// Created, never opened: a file made meanwhile (another
			// generate-key-pair: a private key that no longer matches
			// its .pub) or a symbolic link planted at the name (a
			// dangling one passes the check above) is refused.
			if err := writeNewFile(prefix+".key", enc, 0o600); err != nil {
				return fmt.Errorf("couldn't write private key: %w", err)
			}
			if err := writeNewFile(prefix+".pub", pub, 0o644); err != nil {
				os.Remove(prefix + ".key")
				return fmt.Errorf("couldn't write public key: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Private key written to %s.key\nPublic key written to %s.pub\n", prefix, prefix)
			return nil
		},
	}
	c.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "file name prefix of the key pair")
	c.Flags().StringVar(&alg, "key-algorithm", sign.AlgECDSAP256, "ecdsa-p256, ecdsa-p384 or ed25519")
	return c
}
