// Package tuf maintains the TUF repository through which sigil distributes
// its trust root: the targets trusted_root.json and
// signing_config.v0.2.json, the names Sigstore clients fetch
// (sigstore/sigstore-go pkg/root GetTrustedRoot, GetSigningConfig; cosign
// initialize). Metadata is TUF 1.0 (theupdateframework/specification,
// "The Update Framework Specification" v1.0), built and parsed with
// theupdateframework/go-tuf/v2's metadata package, and verified by its
// updater on the client side (package tuf/client).
//
// # Repository layout
//
// A repository directory holds
//
//	repository/               the published tree, servable by any static web server
//	    1.root.json … N.root.json, root.json (a copy of the newest)
//	    M.targets.json        every version
//	    K.snapshot.json       the last 8 versions
//	    timestamp.json
//	    targets/<sha256>.<name>
//	staged/                   root.json, targets.json, targets/<name> being signed
//	keys/                     a Service's keys (online keys; in dev mode also root and targets)
//	incoming/                 targets a production Service wants the ceremony to sign
//	online.json               the newest snapshot and timestamp versions signed here
//
// Consistent snapshots are on (root "consistent_snapshot": true), so
// clients fetch N.root.json for every next root version, then
// timestamp.json, then the snapshot and targets versions the metadata names
// (<V>.snapshot.json, <V>.targets.json) and targets as
// targets/<sha256 hex>.<name>, the one hash each target lists
// (theupdateframework/go-tuf metadata/updater/updater.go downloadMetadata,
// DownloadTarget). Snapshot and timestamp state the length and SHA-256 of
// the file they name.
//
// # Roles and keys
//
// Root and targets are signed offline: in a ceremony (Repo.Init,
// StageTargets, RotateRoot, Sign, Commit; the `sigil tuf` commands), or in
// dev mode by keys the Service generates. Snapshot and timestamp are signed
// by online keys, re-signed once half their lifetime has passed (defaults:
// root 365 days, targets 180, snapshot 14, timestamp 7). Keys are Ed25519
// (TUF keytype/scheme ed25519) or ECDSA P-256 (ecdsa/ecdsa-sha2-nistp256);
// a signature covers the OLPC canonical JSON of the "signed" object
// (TUF specification §4.2; secure-systems-lab/go-securesystemslib cjson),
// pure Ed25519 or ECDSA over its SHA-256. Key IDs are the SHA-256 of the
// key's canonical JSON. Key files are PEM: PKCS #8, encrypted (PBES2) or
// not, and PKIX public keys.
//
// # Rotation
//
// Root version N+1 must be signed by a threshold of root N's root keys and
// a threshold of its own (TUF specification §5.3.4), so a client that
// trusts root N follows; Commit refuses anything less, and refuses a root
// that changes the targets keys unless targets signed by the new keys are
// committed with it. Versions only go up: the online versions signed are
// recorded outside the published tree, so copying a ceremony's older
// timestamp.json over it cannot make the next timestamp look like a
// rollback (§5.4.3).
//
// # Concurrency
//
// Every Repo method takes an exclusive flock on the directory for its
// duration and reads the state from disk, so `sigil tuf` commands and a
// running server can share a directory. Published files are replaced by
// rename, timestamp.json last, so a reader sees the old state or the new.
package tuf
