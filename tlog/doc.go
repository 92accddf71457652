// Package tlog is sigil's transparency log service: an append-only,
// publicly verifiable record of every signature, speaking Sigstore's two
// log APIs so that sigil's clients and the ecosystem's (cosign, sigstore-go,
// rekor-cli, gitsign, rekor-monitor) can write to it and audit it.
//
// A Service runs two logs, each its own Merkle tree, origin and key:
//
//   - a Rekor v2 log (sigstore/rekor-tiles): POST /api/v2/log/entries takes
//     protojson hashedRekordRequestV002 (or dsseRequestV002, logged as a
//     hashedrekord over the envelope's PAE) and answers 201 with a
//     TransparencyLogEntry carrying an inclusion proof and a C2SP signed
//     checkpoint; reads are C2SP tlog-tiles under /api/v2/ (checkpoint,
//     tile/<L>/<N>[.p/<W>], tile/entries/<N>[.p/<W>]). The origin and key
//     name are the host of V2PublicURL; the key is Ed25519; the log ID is
//     the C2SP key ID SHA-256(origin || 0x0A || 0x01 || key).
//   - a Rekor v1-compatible log (sigstore/rekor openapi.yaml): create, get by
//     UUID/entry ID or index, entries/retrieve, index/retrieve, log info,
//     consistency proofs, public key; kinds hashedrekord 0.0.1, dsse 0.0.1
//     and intoto 0.0.2 with byte-exact canonical bodies and SETs. The key
//     is ECDSA P-256; the log ID is SHA-256 of its DER form; checkpoints
//     have the origin "<host> - <tree ID>" and are signed under "<host>".
//
// # Storage and trust
//
// Each tree stands on github.com/transparency-dev/tessera; by default its
// POSIX driver in DataDir/v2 and DataDir/v1 (a C2SP tlog-tiles layout any
// static web server can also serve). Storage is not trusted by clients:
// every answer carries a proof they verify against a signed checkpoint.
// The log itself checks each checkpoint it signs for consistency with the
// previous one, and the checkpoints Tessera publishes against the newest it
// signed, from the tiles; a failed check stops acknowledgements
// (ErrIntegrity) rather than risk signing a fork.
//
// Beside the v1 tree, the index (SQLite at DataDir/index.db by default;
// package tlog/index) keeps each entry's UUID and integrated time and the
// search keys. Integrated times are signed into SETs, so a record is
// durable before its SET is handed out: the group commit writes a group's
// records in one index transaction (rows appended in index order; the
// lookup tables by UUID and search key are filled from them afterwards, see
// tlog/index) while it signs the checkpoint and the group's SETs, and
// answers the group once all are done. Everything else in a record can be
// rebuilt from the tree, and is, on start-up, for entries a crash left
// without one. A Bloom filter of the logged leaf hashes spares new entries
// the duplicate lookup.
//
// Keys live in DataDir/keys (mode 0600) unless given as files;
// DataDir/state.json pins each log's key, creation time and the v1 tree ID, so a
// restarted service is the same log, and a different key is refused.
//
// # Acknowledgement and durability
//
// A write is answered 201 only once its entry is durable (Tessera's POSIX
// driver fsyncs bundles, tiles and tree state before it resolves an
// index), integrated, and covered by a checkpoint the log signed; the
// answer's inclusion proof is verified against that checkpoint first. The
// log group-commits: entries that arrive while a group is being made
// durable form the next group, so batches track the load and the fsync
// latency, and a checkpoint is signed per group rather than waited for on
// a timer. Indices are contiguous from 0 and never reused. kill -9 loses
// nothing acknowledged (see crash_test.go). Close drains writes in flight
// and lets Tessera publish a checkpoint covering everything it sequenced.
//
// Duplicates: the v2 log answers 409 with header x-log-index for an entry
// Tessera's in-memory antispam remembers (DedupeCacheSize recent entries,
// as rekor-tiles does); the v1 log answers 409 with the Location of the
// existing entry for any entry in its index.
//
// # Operations
//
// Metrics (Prometheus): sigil_tlog_entries_appended_total,
// sigil_tlog_add_duration_seconds, sigil_tlog_add_stage_duration_seconds,
// sigil_tlog_pushback_total, sigil_tlog_requests_rejected_total,
// sigil_tlog_duplicates_total, sigil_tlog_tree_size,
// sigil_tlog_adds_in_flight, each labelled log="v1"|"v2". Pushback (more
// than MaxInFlight adds waiting, or shutting down) is 503 with Retry-After.
// ReadOnly freezes both logs: writes get 405 "This log has been frozen",
// reads are served from the stored checkpoint (or from one signed over
// the integrated tree, when a crash left it ahead of the stored one), and
// nothing is appended.
package tlog
