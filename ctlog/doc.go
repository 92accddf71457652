// Package ctlog is sigil's certificate-transparency log: an RFC 6962 log
// personality on github.com/transparency-dev/tessera that the CA submits
// precertificates to, and that returns the Signed Certificate Timestamps
// the CA embeds in the certificates it issues.
//
// # Trust statement
//
// The log is trusted to include every entry it issued an SCT for. It never
// returns an SCT before the entry is durably sequenced: Tessera's POSIX
// driver resolves an index only after the entry bundle, the Merkle tiles
// and the tree state are written and fsync'd (transparency-dev/tessera
// storage/posix/files.go sequenceBatch), and the SCT's extensions name that
// index. A crash loses nothing an SCT was returned for. The checkpoint that
// commits to an entry is published within CheckpointInterval afterwards
// (default 1 s). The SCT's timestamp is taken when the submission arrives,
// before validation and sequencing, so measured from it, as RFC 6962
// monitors measure the maximum merge delay, an entry is in a checkpoint
// within CheckpointInterval when the log is idle and at most the request
// timeout (30 s) plus CheckpointInterval under a queue of submissions. The
// storage needs no trust beyond that: readers verify tiles against signed
// checkpoints.
//
// # Wire protocol
//
// Submission (RFC 6962 §4.1, §4.2, §4.7; c2sp.org/static-ct-api "Submission
// APIs"), under the submission prefix PublicURL:
//
//	POST <prefix>/ct/v1/add-chain      {"chain":[b64 DER leaf, b64 DER issuer, …]}
//	POST <prefix>/ct/v1/add-pre-chain  {"chain":[b64 DER precert, b64 DER issuer, …]}
//	  → 200 {"sct_version":0,"id":b64 log ID,"timestamp":ms,"extensions":b64,"signature":b64 DigitallySigned}
//	GET  <prefix>/ct/v1/get-roots      → {"certificates":[b64 DER, …]}
//
// A chain is the leaf (or precertificate) followed by its issuers, optionally
// ending with the root. It is accepted only when it ends at one of
// Config.Roots (the root is appended when it was left out), every link
// verifies, every certificate is within its validity period, and the leaf is
// a non-CA certificate with the codeSigning extended key usage — the Fulcio
// profile (sigstore/fulcio docs/ctlog.md: the CT log "must trust the Fulcio
// root and accept EKU CodeSigning"). A precertificate must carry the critical
// poison extension 1.3.6.1.4.1.11129.2.4.3 with value NULL and be signed by
// the CA itself: precertificate signing certificates (RFC 6962 §3.1, EKU
// 1.3.6.1.4.1.11129.2.4.4) are refused, as no Sigstore CA uses them.
//
// Refusals carry the RFC 9162 §5 error form, a problem-details object
// (application/problem+json, RFC 7807) whose type is
// "urn:ietf:params:trans:error:<code>" with the codes of the IANA registry
// RFC 9162 created: malformed, badSubmission, badCertificate, badChain,
// unknownAnchor, shutdown. RFC 6962 defines no error body, so RFC 6962
// clients (certificate-transparency-go's jsonclient, which Fulcio uses) show
// it as text; Client maps it back to this package's sentinel errors.
//
// The SCT is an RFC 6962 §3.2 v1 SCT signed with ECDSA P-256 over SHA-256;
// the log ID is SHA-256 of the log key's DER SubjectPublicKeyInfo. Its
// extensions are the static-ct-api CtExtensions carrying one leaf_index
// extension (type 0, a big-endian 40-bit index; 8 bytes in all), so every
// SCT names the entry it promises. certificate-transparency-go's
// ctutil.VerifySCT, which sigstore-go and cosign use, includes the
// extensions in the signed data and accepts them
// (sigstore/sigstore-conformance#319).
//
// # Read path for monitors
//
// The log serves the static-ct-api monitoring endpoints (c2sp.org/static-ct-api
// "Monitoring APIs") with the monitoring prefix equal to the submission
// prefix:
//
//	GET <prefix>/checkpoint            signed checkpoint, text/plain; charset=utf-8, no-cache
//	GET <prefix>/tile/<L>/<N>[.p/<W>]  Merkle tiles, immutable
//	GET <prefix>/tile/data/<N>[.p/<W>] data tiles of TileLeaf entries, immutable, gzip when accepted
//	GET <prefix>/issuer/<hex SHA-256>  issuer and root certificates, application/pkix-cert
//
// Tiles are served only within the published checkpoint (404 beyond it):
// the POSIX driver writes a batch's tiles before committing the batch, so
// a file beyond the checkpoint may still be replaced.
//
// These are what Tessera writes natively (its CT layout, tessera
// WithCTLayout), so the read path costs nothing on the write path, needs no
// database, and can be served by any static file server or CDN straight from
// DataDir/log. None of the RFC 6962 read endpoints is served (get-sth,
// get-sth-consistency, get-entries, get-proof-by-hash), as by TesseraCT:
// the static-ct-api replaces them and is what current CT monitors speak.
// get-sth alone would mislead them: rekor-monitor's ct_monitor takes a log
// that answers get-sth for an RFC 6962 log and then needs the others. An
// RFC 6962 STH is still in every checkpoint: its RFC6962NoteSignature is
// timestamp(8) || the STH's TLS DigitallySigned signature.
//
// The checkpoint origin is the submission prefix without its scheme or
// trailing slash, lowercased (static-ct-api; transparency-dev/formats
// note.RFC6962VerifierString). Its signature line uses key ID
// SHA-256(origin || 0x0A || 0x05 || log ID)[:4] and the body
// timestamp(8) || TLS DigitallySigned(TreeHeadSignature).
//
// # Data directory
//
//	DataDir/key.pem    the log's ECDSA P-256 key (PKCS#8 PEM, 0600) unless KeyFile is set
//	DataDir/ctlog.json the origin, log ID and start of the log; the service refuses to
//	                   start on a data directory that belongs to another origin or key
//	DataDir/log/       Tessera's POSIX tree: checkpoint, tile/, tile/data/, issuer/, .state/
//
// DataDir/log holds nothing secret and is exactly the monitoring tree.
//
// # Throughput
//
// Submissions are group-committed: while Tessera writes one batch, new
// submissions queue, and all of them go to Tessera as the next batch as soon
// as the previous one is durable. One fsync round thus serves every
// submission that arrived during the previous one, so the batch size follows
// the load and an idle log answers in about one fsync round.
package ctlog
