package cli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/connlimit"
	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/internal/klogslog"
	"sigil.dev/sigil/internal/printable"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/tlog"
	logclient "sigil.dev/sigil/tlog/client"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tuf/client"
	"sigil.dev/sigil/verify"
)

func init() { register(newLog) }

func newLog() *cobra.Command {
	c := &cobra.Command{
		Use:   "log",
		Short: "Run a transparency log, or read and audit one (Rekor v1 and v2)",
		Long: `The transparency log records every signature in an append-only Merkle tree
that anyone can audit. "sigil log serve" runs sigil's log (a Rekor v2 log and a
Rekor v1-compatible log); the other commands read any Rekor log and verify what
it answers: signed checkpoints, inclusion proofs, SETs and consistency proofs.

The log's key comes from the trusted root (--trusted-root, or the TUF mirror
set up with "sigil trust init"), matched by the key ID of the checkpoint's
signature, or from --public-key. Nothing is printed as verified that was not.`,
	}
	c.AddCommand(newLogServe(), newLogInfo(), newLogGet(), newLogSearch(), newLogVerifyConsistency(), newLogVerifyInclusion())
	return c
}

func newLogServe() *cobra.Command {
	var (
		listen, dataDir, publicURL, v1URL, v2URL, v1Key, v2Key, tlogsOut string
		treeID                                                           int64
		interval, commitDelay                                            time.Duration
		maxEntry                                                         int
		readOnly, verbose                                                bool
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the transparency log service alone",
		Long: `serve runs both logs over HTTP:

  Rekor v2:  POST /api/v2/log/entries, GET /api/v2/checkpoint,
             GET /api/v2/tile/<L>/<N>[.p/<W>], GET /api/v2/tile/entries/<N>[.p/<W>]
  Rekor v1:  POST /api/v1/log/entries, GET /api/v1/log/entries?logIndex=N,
             GET /api/v1/log/entries/<uuid>, POST /api/v1/log/entries/retrieve,
             POST /api/v1/index/retrieve, GET /api/v1/log, GET /api/v1/log/proof,
             GET /api/v1/log/publicKey
  GET /metrics, GET /healthz, GET /readyz (503 while writes fail: a full or
  unwritable disk, or storage that failed an integrity check)

Everything lives in --data-dir: the keys (keys/, mode 0600, generated on first
start unless --v2-key/--v1-key are given), state.json (the key, creation time
and tree ID each log was created with), the trees (v2/ and v1/, C2SP
tlog-tiles layouts: v2/ is what /api/v2/ serves, and any static file server can
serve it too; v1/ is read through the v1 API only, its checkpoint file being
internal, under a storage origin no client verifies) and index.db (the v1
index). The public URLs are the logs' identity: the v2 checkpoint origin is the
host of --v2-public-url, the v1 origin "<host of --v1-public-url> - <tree ID>".
A request already logged gets 409 naming the existing entry: on v1 always
(from index.db), with its UUID in Location; on v2, with its index in
x-log-index, for the 65536 most recent entries until a restart, as
rekor-tiles does by default (its duplicate check is in memory); an older
duplicate is logged again.
SIGINT or SIGTERM shuts down gracefully: writes in flight are answered and
nothing acknowledged is lost.`,
		Example: `  # A log on this machine; its two trusted-root entries go to log-trust.json
  sigil log serve --data-dir /var/lib/sigil/log --public-url http://127.0.0.1:3000 --tlogs-out log-trust.json

  # From another shell: the v2 checkpoint, then both logs checked with those keys
  curl -s http://127.0.0.1:3000/api/v2/checkpoint
  sigil log info --rekor-url http://127.0.0.1:3000 --api 2 --trusted-root log-trust.json
  sigil log info --rekor-url http://127.0.0.1:3000 --api 1 --trusted-root log-trust.json

  # Freeze the log: reads only
  sigil log serve --data-dir /var/lib/sigil/log --public-url https://log.example.com --read-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				return errors.New("no data directory: pass --data-dir DIR")
			}
			if v1URL == "" {
				v1URL = publicURL
			}
			if v2URL == "" {
				v2URL = publicURL
			}
			if v1URL == "" || v2URL == "" {
				return errors.New("no public URL: pass --public-url (or --v2-public-url and --v1-public-url), the base URL clients reach the log at")
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			// Tessera logs through klog and slog's default logger: send
			// both to the same place.
			klogslog.Route(logger)
			slog.SetDefault(logger)
			tuneGC(logger)
			ctx, stop := shutdownContext(cmd.Context(), logger)
			defer stop()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("couldn't listen on %s: %w", listen, err)
			}
			svc, err := tlog.New(ctx, tlog.Config{
				DataDir: dataDir, V2PublicURL: v2URL, V1PublicURL: v1URL, V1TreeID: treeID, V2KeyFile: v2Key, V1KeyFile: v1Key,
				CheckpointInterval: interval, GroupCommitDelay: commitDelay, MaxEntrySize: maxEntry, ReadOnly: readOnly, Logger: logger,
			})
			if err != nil {
				ln.Close()
				return err
			}
			if tlogsOut != "" {
				if err := writeTrustedLogs(svc, tlogsOut); err != nil {
					svc.Close()
					ln.Close()
					return err
				}
			}
			mux := http.NewServeMux()
			mux.Handle("/", svc.Handler())
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }) //nolint:errcheck
			mux.HandleFunc("GET /readyz", readyz(svc.Ready))
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(connlimit.Listener(ln)) }()
			logger.Info("serving the transparency log", "listen", ln.Addr().String(), "v2_url", v2URL, "v1_url", v1URL)
			select {
			case err = <-errc:
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err = errors.Join(ignoreClosed(err), srv.Shutdown(sctx), svc.Close())
			return err
		},
	}
	fl := c.Flags()
	fl.StringVar(&listen, "listen", "127.0.0.1:3000", "address to listen on")
	fl.StringVar(&dataDir, "data-dir", "", "directory of the logs' keys, trees and index (created if missing)")
	fl.StringVar(&publicURL, "public-url", "", "base URL clients reach both APIs at (e.g. https://log.example.com)")
	fl.StringVar(&v2URL, "v2-public-url", "", "base URL of the Rekor v2 log, if not --public-url")
	fl.StringVar(&v1URL, "v1-public-url", "", "base URL of the Rekor v1 API, if not --public-url")
	fl.Int64Var(&treeID, "v1-tree-id", 0, "Rekor v1 tree ID (default: generated on first start and kept)")
	fl.StringVar(&v2Key, "v2-key", "", "PEM private key (PKCS#8) of the v2 log: Ed25519 or ECDSA (default: generated into --data-dir)")
	fl.StringVar(&v1Key, "v1-key", "", "PEM private key (PKCS#8 or EC) of the v1 log: ECDSA P-256 (default: generated into --data-dir)")
	fl.DurationVar(&interval, "checkpoint-interval", tlog.DefaultCheckpointInterval, "how often Tessera publishes the checkpoint into storage (writes do not wait for it)")
	fl.DurationVar(&commitDelay, "group-commit-delay", tlog.DefaultGroupCommitDelay, "under load, start a group commit no sooner than this after the previous one, so batches grow (a write to an idle log never waits; negative: off)")
	fl.IntVar(&maxEntry, "max-entry-size", tlog.DefaultMaxEntrySize, "largest canonical entry accepted, in bytes (at most 65535)")
	fl.BoolVar(&readOnly, "read-only", false, "freeze the logs: serve reads, refuse writes with 405")
	fl.StringVar(&tlogsOut, "tlogs-out", "", "write a trusted root listing the two logs (their \"tlogs\" entries) to FILE")
	fl.BoolVarP(&verbose, "verbose", "v", false, "debug logs")
	return c
}

// writeTrustedLogs writes a trusted root holding only the service's logs,
// for an operator to merge into the deployment's trusted root.
func writeTrustedLogs(svc *tlog.Service, path string) error {
	logs, err := svc.TrustedLogs()
	if err != nil {
		return err
	}
	tr := &trust.TrustedRoot{MediaType: trust.TrustedRootMediaTypeLegacy, TLogs: map[string]*trust.Log{}, CTLogs: map[string]*trust.Log{}}
	for _, l := range logs {
		tr.TLogs[l.HexID()] = l
	}
	raw, err := tr.Marshal()
	if err != nil {
		return fmt.Errorf("couldn't encode the logs' trusted root: %w", err)
	}
	if err := writeOutput(path, raw, 0o644); err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	return nil
}

// tuneGC sets the garbage collector for a long-running service (log, CA,
// CT log, sigil server) unless the operator chose with GOGC or GOMEMLIMIT:
// collect when the heap has grown 4× (GOGC=400) rather than 2×, and sooner
// when it nears 256 MiB. The services' live heaps are a few MiB, so this
// costs little memory: under a few thousand log writes a second it trades
// about 100 MB of RSS for a quarter more throughput (bench/tlog), and it
// takes most of the collector's ~6% off the CA's CPU per certificate
// (bench/ca).
func tuneGC(logger *slog.Logger) {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(400)
		debug.SetMemoryLimit(256 << 20)
		logger.Debug("garbage collector tuned", "GOGC", 400, "GOMEMLIMIT", "256MiB")
	}
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// logFlags are the flags of the commands that read a log.
type logFlags struct {
	url       string
	api       int
	publicKey string
	output    string
	trust     trustFlags
}

func (f *logFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.url, "rekor-url", "", "base URL of the log (default: the newest Rekor log of the signing config)")
	fl.IntVar(&f.api, "api", 0, "Rekor API version, 1 or 2 (default: the signing config's, else 2 if the log serves /api/v2/checkpoint)")
	fl.StringVar(&f.publicKey, "public-key", "", "PEM public key of the log, instead of looking it up in the trusted root")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	f.trust.register(fl)
}

// target is a resolved log: its client, API version and key.
type target struct {
	c   *logclient.Client
	api int
	key *logclient.Key // nil until resolved from a checkpoint
	tr  *trust.TrustedRoot
}

// resolve finds the log URL and API version.
func (f *logFlags) resolve(ctx context.Context) (*target, error) {
	if f.output != "text" && f.output != "json" {
		return nil, fmt.Errorf("unknown --output %q: want text or json", f.output)
	}
	t := &target{api: f.api}
	if f.api != 0 && f.api != 1 && f.api != 2 {
		return nil, fmt.Errorf("--api must be 1 or 2, not %d", f.api)
	}
	u := f.url
	if u == "" {
		_, sc, err := f.trust.load()
		if err != nil {
			return nil, fmt.Errorf("no log given and %w; pass --rekor-url", err)
		}
		versions := []uint32{2, 1}
		if f.api != 0 {
			versions = []uint32{uint32(f.api)}
		}
		s, err := trust.SelectService(sc.Rekors, versions, time.Now())
		if err != nil {
			return nil, fmt.Errorf("couldn't pick a Rekor log from the signing config: %w; pass --rekor-url", err)
		}
		u = s.URL
		if t.api == 0 {
			t.api = int(s.MajorAPIVersion)
		}
	}
	if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return nil, fmt.Errorf("--rekor-url %q is not an http(s) URL", u)
	}
	t.c = logclient.New(u)
	if t.api == 0 {
		t.api = 1
		if _, err := t.c.V2Checkpoint(ctx); err == nil {
			t.api = 2
		}
	}
	return t, nil
}

// keyFor returns the key that verifies a signed checkpoint of the log.
func (f *logFlags) keyFor(t *target, signedNote []byte) (*logclient.Key, error) {
	if t.key != nil {
		return t.key, nil
	}
	if f.publicKey != "" {
		pub, err := loadPublicKey(f.publicKey)
		if err != nil {
			return nil, err
		}
		var id []byte
		if t.api == 2 {
			host := hostOf(t.c.BaseURL)
			if id, err = checkpoint.KeyID(host, pub); err != nil {
				return nil, err
			}
		}
		k, err := trust.NewLog(t.c.BaseURL, pub, id, trust.Window{Start: time.Unix(0, 0)})
		if err != nil {
			return nil, fmt.Errorf("couldn't use --public-key: %w", err)
		}
		t.key = k
		return k, nil
	}
	if t.tr == nil {
		tr, err := f.trust.loadTrustedRoot()
		if errors.Is(err, client.ErrNotInitialized) {
			// It says already to pass --trusted-root or set up TUF.
			return nil, fmt.Errorf("%w, or pass the log's --public-key", err)
		}
		if err != nil {
			return nil, fmt.Errorf("%w; pass --trusted-root FILE or the log's --public-key", err)
		}
		t.tr = tr
	}
	k := logclient.FindKey(t.tr, signedNote)
	if k == nil {
		return nil, fmt.Errorf("the trusted root has no key for the log at %s (none matches the checkpoint's signature); pass --public-key", t.c.BaseURL)
	}
	t.key = k
	return k, nil
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Hostname()
}

// latest fetches and verifies the log's newest checkpoint.
func (f *logFlags) latest(ctx context.Context, t *target) ([]byte, *checkpoint.Checkpoint, *logclient.LogInfo, error) {
	var signed []byte
	var li *logclient.LogInfo
	if t.api == 1 {
		var err error
		if li, err = t.c.V1LogInfo(ctx); err != nil {
			return nil, nil, nil, err
		}
		signed = []byte(li.SignedTreeHead)
	} else {
		var err error
		if signed, err = t.c.V2Checkpoint(ctx); err != nil {
			return nil, nil, nil, err
		}
	}
	k, err := f.keyFor(t, signed)
	if err != nil {
		return nil, nil, nil, err
	}
	cp, err := logclient.OpenCheckpoint(signed, k)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the log's newest checkpoint: %w", err)
	}
	if li != nil && (li.TreeSize != cp.Size || li.RootHash != hex.EncodeToString(cp.Hash)) {
		return nil, nil, nil, fmt.Errorf("%w: the log info (size %d) does not match its checkpoint (size %d)", logclient.ErrVerification, li.TreeSize, cp.Size)
	}
	if li != nil {
		// The tree ID is shown as the log's; only the origin is signed.
		if _, id, ok := strings.Cut(cp.Origin, " - "); !ok || id != li.TreeID {
			return nil, nil, nil, fmt.Errorf("%w: the log info's tree ID %q is not the one its signed checkpoint names (origin %q)", logclient.ErrVerification, li.TreeID, cp.Origin)
		}
	}
	return signed, cp, li, nil
}

func newLogInfo() *cobra.Command {
	var f logFlags
	var save string
	c := &cobra.Command{
		Use:   "info",
		Short: "Show a log's newest checkpoint, verified with the log's key",
		Example: `  # The log of the trusted root and signing config set up with "sigil trust init"
  sigil log info

  # A Rekor v1 log, keeping its checkpoint to prove consistency later
  sigil log info --rekor-url https://rekor.sigstore.dev --api 1 --trusted-root trusted_root.json --save rekor.checkpoint

  # A Rekor v2 log with a known key, as JSON
  sigil log info --rekor-url https://log2025-1.rekor.sigstore.dev --public-key log.pub -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			t, err := f.resolve(ctx)
			if err != nil {
				return err
			}
			signed, cp, li, err := f.latest(ctx, t)
			if err != nil {
				return err
			}
			if save != "" {
				if err := fsutil.WriteFileAtomic(save, signed, 0o644); err != nil {
					return fmt.Errorf("couldn't save the checkpoint: %w", err)
				}
			}
			out := map[string]any{"url": t.c.BaseURL, "api": t.api, "origin": cp.Origin, "treeSize": cp.Size,
				"rootHash": hex.EncodeToString(cp.Hash), "logID": t.key.HexID(), "checkpoint": string(signed)}
			if li != nil {
				out["treeID"] = li.TreeID
			}
			if f.output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "log         %s (Rekor v%d)\n", t.c.BaseURL, t.api)
			fmt.Fprintf(w, "origin      %s\n", cp.Origin)
			fmt.Fprintf(w, "tree size   %d\n", cp.Size)
			fmt.Fprintf(w, "root hash   %x\n", cp.Hash)
			if li != nil {
				fmt.Fprintf(w, "tree ID     %s\n", li.TreeID)
			}
			fmt.Fprintf(w, "log ID      %s\n", t.key.HexID())
			fmt.Fprintf(w, "checkpoint  signature verified\n")
			if save != "" {
				fmt.Fprintf(w, "saved to    %s\n", save)
			}
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&save, "save", "", "write the verified signed checkpoint to FILE (for verify-consistency --from)")
	return c
}

func newLogGet() *cobra.Command {
	var f logFlags
	var index int64
	var uuid string
	c := &cobra.Command{
		Use:   "get (--index N | --uuid UUID)",
		Short: "Fetch a log entry and verify its inclusion proof, checkpoint and SET",
		Long: `get fetches an entry and checks it before printing it: its inclusion proof
leads to a checkpoint the log's key signed, and (Rekor v1) its SET verifies.
Rekor v1 logs are read through the API by index or UUID; Rekor v2 logs by index
from their tiles, with a proof against the newest checkpoint. With -o json the
entry is printed as a bundle's TransparencyLogEntry (protojson).`,
		Example: `  sigil log get --rekor-url https://rekor.sigstore.dev --api 1 --index 147137144 --trusted-root trusted_root.json
  sigil log get --rekor-url https://rekor.sigstore.dev --api 1 --uuid 108e9186e8c5677a9a5627d43b3185112de9090e7e1a6ddb917a8b3bc2b3f8a2f6a1b8c3d7e4f5a6 -o json
  sigil log get --rekor-url http://127.0.0.1:3000 --api 2 --index 0 --public-key log.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			hasIndex := cmd.Flags().Changed("index")
			if hasIndex == (uuid != "") {
				return errors.New("pass exactly one of --index N and --uuid UUID")
			}
			if hasIndex && index < 0 {
				return fmt.Errorf("--index must be ≥ 0, not %d", index)
			}
			t, err := f.resolve(ctx)
			if err != nil {
				return err
			}
			var e *protorekor.TransparencyLogEntry
			var id string
			var cp *checkpoint.Checkpoint
			if t.api == 1 {
				if e, id, err = t.c.V1Entry(ctx, index, uuid); err != nil {
					return err
				}
				k, err := f.keyFor(t, []byte(e.GetInclusionProof().GetCheckpoint().GetEnvelope()))
				if err != nil {
					return err
				}
				if cp, err = logclient.VerifyEntry(e, k); err != nil {
					return err
				}
				if err := checkV1Answer(e, id, cp, hasIndex, index, uuid); err != nil {
					return err
				}
			} else {
				if uuid != "" {
					return errors.New("Rekor v2 logs have no UUID lookup: pass --index")
				}
				signed, latest, _, err := f.latest(ctx, t)
				if err != nil {
					return err
				}
				if e, err = t.c.V2Entry(ctx, uint64(index), signed, latest, t.key.ID); err != nil {
					return err
				}
				if cp, err = logclient.VerifyEntry(e, t.key); err != nil {
					return err
				}
			}
			return printEntry(cmd.OutOrStdout(), f.output, e, id, cp)
		},
	}
	f.register(c)
	c.Flags().Int64Var(&index, "index", 0, "log index of the entry (the global index on Rekor v1)")
	c.Flags().StringVar(&uuid, "uuid", "", "entry UUID (64 hex) or entry ID (80 hex), Rekor v1 only")
	return c
}

func newLogSearch() *cobra.Command {
	var (
		f        logFlags
		q        logclient.SearchQuery
		artifact string
		key      string
		operator string
		limit    int
	)
	c := &cobra.Command{
		Use:   "search (--sha DIGEST | --artifact FILE | --email ADDR | --subject ID | --key FILE)... [--operator and|or]",
		Short: "Find a Rekor v1 log's entries by artifact, signer identity or key, each verified",
		Long: `search asks a Rekor v1 log's index (POST /api/v1/index/retrieve) for the
entries of an artifact digest, a signer's email or other certificate identity,
or a signer's key, then fetches every entry it names and checks it as "get"
does (inclusion proof, signed checkpoint, SET), and checks that the entry
answers the query: its body records the digest, or a certificate with the
identity, or the key. An entry that does not is an error: the index lied.
An entry the log cannot serve is reported after the others, and the search
then fails (exit 1): the list is incomplete.

A digest may also be a subject of the in-toto statement that a dsse or intoto
entry was made over; the body records only the statement's hash, so such an
entry is listed as "unchecked" rather than proven to match, as are entries of
kinds sigil does not read (rekord, helm, …).

Anyone can log an entry under a certificate of their own making: a Rekor v1
log does not check who issued it. So each hashedrekord entry's certificate is
verified against the trusted root's CAs at the entry's time, as a bundle
would be, and marked "NOT verified" (with the reason) when it fails: only a
verified certificate's names say who signed.

The index is best effort and unsigned (Rekor deprecates the endpoint): search
proves what it lists, never that nothing else exists. To watch for every
entry of an identity, read the whole log. A sigil log answers at most the
10,000 newest matching entries per search: narrow it (--operator and) to see
older ones. Rekor v2 logs have no index.`,
		Example: `  # Every entry signed by an identity, on the instance set up with "sigil trust init"
  sigil log search --email alice@example.com

  # The entries of an artifact, on a given log, as JSON
  sigil log search --rekor-url https://rekor.sigstore.dev --artifact release.tar.gz --trusted-root trusted_root.json -o json

  # Entries of this artifact signed by this identity
  sigil log search --sha sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 --subject https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main --operator and`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			switch f.api {
			case 0:
				f.api = 1
			case 2:
				return errors.New("Rekor v2 logs have no search index: search a Rekor v1 log (--api 1), or read the v2 log's tiles")
			}
			switch operator {
			case "or", "":
			case "and":
				q.And = true
			default:
				return fmt.Errorf("--operator must be and or or, not %q", operator)
			}
			if limit < 1 {
				return fmt.Errorf("--limit must be ≥ 1, not %d", limit)
			}
			if artifact != "" {
				if q.Hash != "" {
					return errors.New("give either --sha or --artifact, not both")
				}
				d, err := sha256File(artifact)
				if err != nil {
					return err
				}
				q.Hash = "sha256:" + d
			}
			if key != "" {
				raw, err := readFile("--key", key)
				if err != nil {
					return err
				}
				q.PEM = raw
			}
			if q.Empty() {
				return errors.New("nothing to search for: pass --sha, --artifact, --email, --subject or --key")
			}
			if err := q.Validate(); err != nil {
				return err
			}
			t, err := f.resolve(ctx)
			if err != nil {
				return err
			}
			ids, err := t.c.V1Search(ctx, q)
			if err != nil {
				return err
			}
			more := 0
			if len(ids) > limit {
				ids, more = ids[:limit], len(ids)-limit
			}
			type found struct {
				ID      string    `json:"entryID"`
				UUID    string    `json:"uuid"`
				Index   int64     `json:"logIndex"`
				Kind    string    `json:"kind"`
				Time    time.Time `json:"integratedTime"`
				Signers []string  `json:"signers"`
				// Signer is "verified" (the certificate chains to a CA
				// of the trusted root at the integrated time and the
				// signature verifies), "key" (a bare key: no identity
				// claimed), "unverified" or "unchecked".
				Signer      string          `json:"signer"`
				SignerError string          `json:"signerError,omitempty"`
				Match       string          `json:"match"`
				Entry       json.RawMessage `json:"entry"`
			}
			var all []found
			var sv *verify.Verifier
			haveCAs := false
			var unfetched []string
			for i, r := range fetchEntries(ctx, t.c, ids) {
				id, e, gotID := ids[i], r.entry, r.id
				if r.err != nil {
					// One entry the log cannot serve (an old shard, a
					// transient error) must not hide the others: it is
					// reported, and the search fails, after them.
					unfetched = append(unfetched, fmt.Sprintf("couldn't fetch entry %s that the index lists: %v", id, r.err))
					continue
				}
				k, err := f.keyFor(t, []byte(e.GetInclusionProof().GetCheckpoint().GetEnvelope()))
				if err != nil {
					return err
				}
				cp, err := logclient.VerifyEntry(e, k)
				if err != nil {
					return fmt.Errorf("entry %s: %w", id, err)
				}
				if err := checkV1Answer(e, gotID, cp, false, 0, id); err != nil {
					return err
				}
				m, err := q.Match(e.GetCanonicalizedBody())
				if err != nil {
					return err
				}
				if m == logclient.NoMatch {
					return fmt.Errorf("%w: the index lists entry %d (%s), which does not answer the query", logclient.ErrVerification, e.GetLogIndex(), id)
				}
				raw, err := protojson.Marshal(e)
				if err != nil {
					return fmt.Errorf("couldn't encode entry: %w", err)
				}
				if sv == nil {
					// The CAs that make a certificate's names mean
					// something: the trusted root (loaded already,
					// unless --public-key named the log's key).
					tr := t.tr
					if tr == nil {
						// With --public-key the root was not needed for the
						// log; one named by --trusted-root must still load,
						// not leave every signer unchecked.
						var err error
						if tr, err = f.trust.loadTrustedRoot(); err != nil {
							if f.trust.trustedRoot != "" {
								return err
							}
							fmt.Fprintf(cmd.ErrOrStderr(), "couldn't load a trusted root to check the signers' certificates, so they are listed unchecked: %v\n", err)
						}
					}
					if tr == nil {
						tr = &trust.TrustedRoot{}
					}
					sv, haveCAs = verify.New(tr, verify.Options{}), len(tr.CAs) > 0
				}
				signer, why := checkSigner(sv, haveCAs, e)
				leaf := rekor.LeafHash(e.GetCanonicalizedBody())
				all = append(all, found{ID: gotID, UUID: hex.EncodeToString(leaf[:]), Index: e.GetLogIndex(),
					Kind: e.GetKindVersion().GetKind() + " " + e.GetKindVersion().GetVersion(), Time: time.Unix(e.GetIntegratedTime(), 0).UTC(),
					Signers: logclient.Signers(e.GetCanonicalizedBody()), Signer: signer, SignerError: why, Match: m.String(), Entry: raw})
			}
			sort.Slice(all, func(i, j int) bool { return all[i].Index < all[j].Index })
			if more > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "the index lists %d more entries: raise --limit to see them\n", more)
			}
			failed := func() error {
				if len(unfetched) == 0 {
					return nil
				}
				for _, u := range unfetched {
					fmt.Fprintln(cmd.ErrOrStderr(), printableText(u))
				}
				return fmt.Errorf("couldn't fetch %d of the %d entries the index lists: the list above is incomplete", len(unfetched), len(ids))
			}
			if f.output == "json" {
				if all == nil {
					all = []found{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(all); err != nil {
					return err
				}
				return failed()
			}
			w := cmd.OutOrStdout()
			if len(all) == 0 {
				if err := failed(); err != nil {
					return err
				}
				fmt.Fprintln(cmd.ErrOrStderr(), "no entries found (the index is best effort: this proves nothing about absence)")
				return nil
			}
			for _, e := range all {
				note := ""
				if e.Match == "unchecked" {
					note = "  (match unchecked: sigil does not read this entry kind)"
					if strings.HasPrefix(e.Kind, rekor.KindDSSE+" ") || strings.HasPrefix(e.Kind, rekor.KindIntoto+" ") {
						note = "  (match unchecked: the digest may be a statement subject)"
					}
				}
				// Anyone can log an entry with a certificate of their own
				// making: its names go to the terminal without control
				// characters.
				switch e.Signer {
				case "unverified":
					note = "  (certificate NOT verified: " + e.SignerError + ")" + note
				case "unchecked":
					note = "  (certificate not checked)" + note
				}
				fmt.Fprintf(w, "%d  %s  %s  %s  %s%s\n", e.Index, e.UUID, printableText(e.Kind), e.Time.Format(time.RFC3339), printableText(strings.Join(e.Signers, ", ")), printableText(note))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d entries, each verified (inclusion proof, checkpoint, SET); a signer's names mean something only when its certificate is verified (a trusted CA issued it)\n", len(all))
			return failed()
		},
	}
	f.register(c)
	fl := c.Flags()
	fl.StringVar(&q.Hash, "sha", "", "artifact digest: [sha256:|sha512:|sha1:]HEX")
	fl.StringVar(&artifact, "artifact", "", "artifact file: search for its SHA-256 digest")
	fl.StringVar(&q.Email, "email", "", "email address in the signing certificate")
	fl.StringVar(&q.Subject, "subject", "", "identity in the signing certificate (any SAN: email, URI, …)")
	fl.StringVar(&key, "key", "", "PEM public key or certificate of the signer")
	fl.StringVar(&operator, "operator", "or", "combine the criteria: and, or")
	fl.IntVar(&limit, "limit", 100, "fetch and verify at most N entries: the first the index lists (Rekor and sigil list the newest first)")
	return c
}

// fetched is one entry fetchEntries fetched, or why it could not.
type fetched struct {
	entry *protorekor.TransparencyLogEntry
	id    string
	err   error
}

// searchFetchers is how many entries log search fetches at once: a
// hundred entries one after the other took a hundred round trips.
const searchFetchers = 4

// fetchEntries fetches the entries ids name from a Rekor v1 log,
// searchFetchers at a time, in the order of ids.
func fetchEntries(ctx context.Context, c *logclient.Client, ids []string) []fetched {
	out := make([]fetched, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(searchFetchers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				e, id, err := c.V1Entry(ctx, 0, ids[i])
				out[i] = fetched{e, id, err}
			}
		}()
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// checkV1Answer checks that a Rekor v1 log answered what was asked: the
// entry at the index, or with the UUID (leaf hash, after a 16-hex tree ID
// in the 80-hex entry ID form), under an entry ID naming the same leaf;
// and with a SET, without which its integrated time is unverifiable
// (rekor-cli refuses such an answer too).
func checkV1Answer(e *protorekor.TransparencyLogEntry, id string, cp *checkpoint.Checkpoint, hasIndex bool, index int64, uuid string) error {
	leaf := fmt.Sprintf("%x", rekor.LeafHash(e.GetCanonicalizedBody()))
	if len(e.GetInclusionPromise().GetSignedEntryTimestamp()) == 0 {
		return fmt.Errorf("%w: the log returned entry %d without a SET (signed entry timestamp), so its integrated time is unverifiable", logclient.ErrVerification, e.GetLogIndex())
	}
	if hasIndex && e.GetLogIndex() != index {
		return fmt.Errorf("%w: asked for index %d, the log returned entry %d", logclient.ErrVerification, index, e.GetLogIndex())
	}
	names := func(ref string) bool {
		ref = strings.ToLower(ref)
		switch len(ref) {
		case 64:
			return ref == leaf
		case 80:
			_, tree, _ := strings.Cut(cp.Origin, " - ")
			t, err := strconv.ParseInt(tree, 10, 64)
			return ref[16:] == leaf && (err != nil || ref[:16] == fmt.Sprintf("%016x", t))
		}
		return false
	}
	if uuid != "" && !names(uuid) {
		return fmt.Errorf("%w: asked for UUID %s, the log returned entry %d whose leaf hash is %s", logclient.ErrVerification, uuid, e.GetLogIndex(), leaf)
	}
	if id != "" && !names(id) {
		return fmt.Errorf("%w: the log returned entry %d under the entry ID %q, which does not name its leaf hash %s", logclient.ErrVerification, e.GetLogIndex(), id, leaf)
	}
	return nil
}

func printEntry(w io.Writer, output string, e *protorekor.TransparencyLogEntry, id string, cp *checkpoint.Checkpoint) error {
	if output == "json" {
		b, err := protojson.Marshal(e)
		if err != nil {
			return fmt.Errorf("couldn't encode entry: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	leaf := rekor.LeafHash(e.GetCanonicalizedBody())
	fmt.Fprintf(w, "index            %d\n", e.GetLogIndex())
	if id != "" {
		fmt.Fprintf(w, "entry ID         %s\n", id)
	}
	fmt.Fprintf(w, "UUID (leaf hash) %x\n", leaf)
	fmt.Fprintf(w, "kind             %s %s\n", printableText(e.GetKindVersion().GetKind()), printableText(e.GetKindVersion().GetVersion()))
	if it := e.GetIntegratedTime(); it != 0 {
		how := "SET verified"
		if len(e.GetInclusionPromise().GetSignedEntryTimestamp()) == 0 {
			how = "not signed: no SET"
		}
		fmt.Fprintf(w, "integrated time  %s (%s)\n", time.Unix(it, 0).UTC().Format(time.RFC3339), how)
	}
	fmt.Fprintf(w, "inclusion        proven in the tree of size %d (checkpoint %q verified)\n", cp.Size, cp.Origin)
	var body any
	if err := json.Unmarshal(e.GetCanonicalizedBody(), &body); err != nil {
		fmt.Fprintf(w, "body             %s\n", base64.StdEncoding.EncodeToString(e.GetCanonicalizedBody()))
		return nil
	}
	b, _ := json.MarshalIndent(body, "", "  ")
	fmt.Fprintf(w, "body\n%s\n", escapeJSONText(string(b)))
	return nil
}

// escapeJSONText escapes, as \u and four hex digits, what encoding/json leaves raw in
// strings but a terminal would act on: DEL, C1 controls, bidirectional
// formatting characters. Anyone can log an entry with such text (an
// intoto payload type); the JSON stays the same value.
func escapeJSONText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func newLogVerifyConsistency() *cobra.Command {
	var f logFlags
	var from string
	var update bool
	c := &cobra.Command{
		Use:   "verify-consistency --from CHECKPOINT",
		Short: "Prove that the log still extends a checkpoint you saved (it never forked or rewrote history)",
		Long: `verify-consistency reads a signed checkpoint saved earlier (by "sigil log info
--save", or a bundle's checkpoint), verifies it and the log's newest checkpoint
with the log's key, and verifies a consistency proof between them: from the v1
API (/api/v1/log/proof) on Rekor v1, from the tiles on Rekor v2. A log that
shrank, forked or rewrote an entry fails, and its newest checkpoint is saved
beside the old one (FILE.newest). Two signed checkpoints of the same size with
different roots prove a fork; of different sizes, they do only with the log's
tree (a shrink may be a stale copy, a failing proof a faulty answer).
--update then saves the newest checkpoint in place of the old one, as a monitor
does between runs.`,
		Example: `  sigil log info --rekor-url https://rekor.sigstore.dev --api 1 --save rekor.checkpoint
  # … later …
  sigil log verify-consistency --rekor-url https://rekor.sigstore.dev --api 1 --from rekor.checkpoint --update`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			old, err := readFile("checkpoint", from)
			if err != nil {
				return fmt.Errorf("%w (pass --from FILE)", err)
			}
			old = normalizeNote(old)
			t, err := f.resolve(ctx)
			if err != nil {
				return err
			}
			// The log's newest checkpoint names its key; the saved one
			// must be of the same log.
			signed, cp, _, err := f.latest(ctx, t)
			if err != nil {
				return err
			}
			otherLog := func(origin string) error {
				hint := ""
				// A Rekor v1 origin is "<host> - <tree ID>".
				if t.api == 2 && strings.Contains(origin, " - ") && f.api == 0 {
					hint = "; it looks like a Rekor v1 checkpoint: pass --api 1"
				} else if t.api == 1 && !strings.Contains(origin, " - ") && f.api == 0 {
					hint = "; it looks like a Rekor v2 checkpoint: pass --api 2"
				}
				return fmt.Errorf("the checkpoint in %s is of the log %q, not of the log at %s (Rekor v%d, origin %q)%s", from, origin, t.c.BaseURL, t.api, cp.Origin, hint)
			}
			oldCP, err := logclient.OpenCheckpoint(old, t.key)
			if err != nil {
				if text, ok := checkpoint.Split(old); ok {
					if origin, _, _ := strings.Cut(string(text), "\n"); origin != cp.Origin {
						return otherLog(origin)
					}
				}
				return fmt.Errorf("the checkpoint in %s: %w", from, err)
			}
			if oldCP.Origin != cp.Origin {
				// The key verifies checkpoints of several trees (a Rekor
				// v1 log's shards share it): one of another tree proves
				// nothing about this one.
				return otherLog(oldCP.Origin)
			}
			if err := t.c.ProveConsistency(ctx, t.api == 1, oldCP, cp); err != nil {
				if !errors.Is(err, logclient.ErrVerification) {
					return err
				}
				// Two checkpoints the log signed that cannot both be true
				// are the evidence of its misbehaviour: keep the newest
				// beside the saved one, which stays untouched.
				evidence := from + ".newest"
				if werr := fsutil.WriteFileAtomic(evidence, signed, 0o644); werr != nil {
					return fmt.Errorf("%w (and couldn't keep the log's newest checkpoint as evidence: %v)", err, werr)
				}
				if oldCP.Size == cp.Size {
					return fmt.Errorf("%w; the log signed both %s and the checkpoint now saved in %s: keep them, together they prove it", err, from, evidence)
				}
				// Checkpoints of two sizes contradict each other only
				// through the log's tree: a smaller one may be a stale
				// copy, a failed proof a faulty answer on the way.
				return fmt.Errorf("%w; the log's newest checkpoint is kept in %s beside %s: they prove a fork only with the log's tree (a smaller newest checkpoint may be a stale copy, a failing proof a faulty answer): check again, from elsewhere too", err, evidence, from)
			}
			if update {
				if err := fsutil.WriteFileAtomic(from, signed, 0o644); err != nil {
					return fmt.Errorf("couldn't update %s: %w", from, err)
				}
			}
			if f.output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"consistent": true, "origin": cp.Origin, "fromSize": oldCP.Size, "toSize": cp.Size, "rootHash": hex.EncodeToString(cp.Hash), "updated": update})
			}
			if oldCP.Size == cp.Size {
				fmt.Fprintf(cmd.OutOrStdout(), "consistent: %s is unchanged at %d entries (root %x)\n", cp.Origin, cp.Size, cp.Hash)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "consistent: %s grew from %d to %d entries without rewriting any (root %x)\n", cp.Origin, oldCP.Size, cp.Size, cp.Hash)
			}
			if update {
				fmt.Fprintf(cmd.OutOrStdout(), "saved the newest checkpoint to %s\n", from)
			}
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&from, "from", "", "file with a signed checkpoint of the log saved earlier (required)")
	c.Flags().BoolVar(&update, "update", false, "replace the file's checkpoint with the newest one once verified")
	return c
}

func newLogVerifyInclusion() *cobra.Command {
	var f logFlags
	var bundlePath, entryPath string
	c := &cobra.Command{
		Use:   "verify-inclusion (--bundle FILE | --entry FILE)",
		Short: "Prove that a bundle's log entries are in the log today, not only when it was signed",
		Long: `verify-inclusion checks each transparency-log entry of a bundle (or a
TransparencyLogEntry JSON file) against the live log: the entry's inclusion
proof leads to a checkpoint signed by the log (and its SET verifies, on Rekor
v1), and that checkpoint is consistent with the log's newest one, so the entry
is in the log's current tree. The log is the trusted root's instance whose log
ID the entry names, at its base URL unless --rekor-url is given.`,
		Example: `  sigil log verify-inclusion --bundle release.tar.gz.sigstore.json --trusted-root trusted_root.json
  sigil log verify-inclusion --entry entry.json --rekor-url http://127.0.0.1:3000 --api 1 --public-key log.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			entries, err := loadEntries(bundlePath, entryPath)
			if err != nil {
				return err
			}
			var results []map[string]any
			for i, e := range entries {
				r, err := verifyInclusionOnline(ctx, &f, e)
				if err != nil {
					return fmt.Errorf("entry %d (log index %d): %w", i, e.GetLogIndex(), err)
				}
				results = append(results, r)
				if f.output == "text" {
					fmt.Fprintf(cmd.OutOrStdout(), "entry %d: log index %d of %s (Rekor v%d) is included in the tree of size %d, consistent with the log's newest checkpoint (size %d)\n",
						i, e.GetLogIndex(), r["url"], r["api"], r["entryTreeSize"], r["treeSize"])
				}
			}
			if f.output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(results)
			}
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&bundlePath, "bundle", "", "Sigstore bundle whose log entries to check")
	c.Flags().StringVar(&entryPath, "entry", "", "a TransparencyLogEntry JSON file (protojson), instead of a bundle")
	return c
}

func loadEntries(bundlePath, entryPath string) ([]*protorekor.TransparencyLogEntry, error) {
	switch {
	case (bundlePath == "") == (entryPath == ""):
		return nil, errors.New("pass exactly one of --bundle FILE and --entry FILE")
	case bundlePath != "":
		raw, err := readSmallFile("bundle", bundlePath, maxBundleFile)
		if err != nil {
			return nil, err
		}
		b, err := bundle.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("couldn't load bundle %s: %w", bundlePath, err)
		}
		if len(b.TlogEntries) == 0 {
			return nil, fmt.Errorf("bundle %s has no transparency-log entries", bundlePath)
		}
		return b.TlogEntries, nil
	}
	raw, err := readSmallFile("entry", entryPath, maxBundleFile)
	if err != nil {
		return nil, err
	}
	var e protorekor.TransparencyLogEntry
	if err := protojson.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("couldn't load entry %s: %w", entryPath, err)
	}
	return []*protorekor.TransparencyLogEntry{&e}, nil
}

func verifyInclusionOnline(ctx context.Context, f *logFlags, e *protorekor.TransparencyLogEntry) (map[string]any, error) {
	env := []byte(e.GetInclusionProof().GetCheckpoint().GetEnvelope())
	if len(env) == 0 {
		return nil, errors.New("the entry has no inclusion proof with a checkpoint (a v0.1 bundle with only a SET?)")
	}
	g := *f
	g.output = "text"
	if g.url == "" {
		// The log the entry names in the trusted root.
		if g.publicKey != "" {
			return nil, errors.New("with --public-key, pass the log's --rekor-url")
		}
		tr, err := g.trust.loadTrustedRoot()
		if errors.Is(err, client.ErrNotInitialized) {
			return nil, err // it says already to pass --trusted-root or set up TUF
		}
		if err != nil {
			return nil, fmt.Errorf("%w; pass --trusted-root FILE", err)
		}
		l := tr.TLogs[hex.EncodeToString(e.GetLogId().GetKeyId())]
		if l == nil {
			return nil, fmt.Errorf("the trusted root has no log %x", e.GetLogId().GetKeyId())
		}
		g.url = l.BaseURL
	}
	if g.api == 0 {
		g.api = 1
		if e.GetKindVersion().GetVersion() == rekor.VersionHashedRekordV2 && e.GetKindVersion().GetKind() == rekor.KindHashedRekord {
			g.api = 2
		}
	}
	t, err := g.resolve(ctx)
	if err != nil {
		return nil, err
	}
	k, err := g.keyFor(t, env)
	if err != nil {
		return nil, err
	}
	entryCP, err := logclient.VerifyEntry(e, k)
	if err != nil {
		return nil, err
	}
	_, cp, _, err := g.latest(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := t.c.ProveConsistency(ctx, t.api == 1, entryCP, cp); err != nil {
		return nil, err
	}
	return map[string]any{"url": t.c.BaseURL, "api": t.api, "logIndex": e.GetLogIndex(), "entryTreeSize": entryCP.Size, "treeSize": cp.Size,
		"rootHash": hex.EncodeToString(cp.Hash), "included": true, "leafHash": fmt.Sprintf("%x", rekor.LeafHash(e.GetCanonicalizedBody()))}, nil
}

// normalizeNote undoes what copying a signed note through other tools
// does (CRLF line ends, a missing or an extra final newline, as "jq -r"
// adds): a signed note ends in exactly one newline.
func normalizeNote(b []byte) []byte {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	return []byte(strings.TrimRight(s, "\n") + "\n")
}

// sha256File returns the hex SHA-256 digest of a file, read as a stream.
func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("couldn't open the artifact: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("couldn't read the artifact: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkSigner verifies the certificate of a hashedrekord entry as a
// verifier would verify the bundle it amounts to: the signature over the
// recorded digest, the chain to a CA of the trusted root at the entry's
// integrated time, its SCT, any identity. Anyone can log an entry under a
// certificate of their own making (a Rekor v1 log does not check it), so
// the names search shows mean something only for a verified signer. It
// returns "verified", "key" (a bare public key: no identity claimed),
// "unverified" with the reason, or "unchecked" (no trusted CAs, or a kind
// whose body lacks what was signed).
func checkSigner(v *verify.Verifier, haveCAs bool, e *protorekor.TransparencyLogEntry) (string, string) {
	b, err := rekor.ParseV1Body(e.GetCanonicalizedBody())
	if err != nil || len(b.Signatures) == 0 {
		return "unchecked", ""
	}
	blk, _ := pem.Decode(b.Signatures[0].PEM)
	if blk == nil {
		return "unchecked", ""
	}
	if blk.Type == "PUBLIC KEY" {
		// A dsse or intoto entry may carry several signatures: "key"
		// only when none of them names anyone.
		for _, sg := range b.Signatures[1:] {
			if o, _ := pem.Decode(sg.PEM); o == nil || o.Type != "PUBLIC KEY" {
				return "unchecked", ""
			}
		}
		return "key", ""
	}
	if b.Kind != rekor.KindHashedRekord || len(b.Signatures) != 1 || !haveCAs {
		return "unchecked", ""
	}
	h, err := rekor.HashFromName(b.Hash.Algorithm)
	if err != nil {
		return "unverified", err.Error()
	}
	bnd, err := bundle.New(blk.Bytes, nil, &bundle.MessageSignature{DigestAlgorithm: h, Digest: b.Hash.Value, Signature: b.Signatures[0].Signature}, nil, []*protorekor.TransparencyLogEntry{e}, nil)
	if err != nil {
		return "unverified", err.Error()
	}
	anyone, _ := verify.NewMatcher("", "^")
	if _, err := v.Verify(bnd, verify.Artifact{DigestAlgorithm: h, Digest: b.Hash.Value}, verify.Policy{Identities: []verify.Identity{{SubjectAlternativeName: anyone, Issuer: anyone}}}); err != nil {
		return "unverified", err.Error()
	}
	return "verified", ""
}

// printableText makes text from a log entry safe for a terminal: invalid
// UTF-8, control characters (terminal escapes) and bidirectional
// formatting characters become "?".
func printableText(s string) string { return printable.Text(s) }
