// Package sign produces Sigstore bundles: it gets a certificate for an
// ephemeral key from a Fulcio-compatible CA (or uses a long-lived key),
// signs an artifact digest or a DSSE envelope, records the signature in
// transparency logs (Rekor v1 or v2), obtains RFC 3161 timestamps, and
// assembles a v0.3 bundle. Before returning it verifies the bundle with the
// verify package against the trusted root, so nothing unverifiable is ever
// written.
//
// Wire protocols (see /shared/reference):
//
//   - CA: POST <ca>/api/v2/signingCert with a public key and a proof of
//     possession (a signature over the token's email, or sub) and the
//     token in Authorization: Bearer; the chain comes back leaf first
//     (sigstore/fulcio fulcio.proto).
//   - Rekor v1: POST <log>/api/v1/log/entries with a proposed hashedrekord
//     0.0.1 or dsse 0.0.1 entry; 201 with {"<entry ID>": LogEntry}
//     (sigstore/rekor openapi.yaml). The entry is turned into a bundle
//     TransparencyLogEntry as sigstore/rekor pkg/tle does.
//   - Rekor v2: POST <log>/api/v2/log/entries with hashedRekordRequestV002;
//     201 with a TransparencyLogEntry (sigstore/rekor-tiles). DSSE goes to v2
//     as a hashedrekord over SHA-256(PAE).
//   - TSA: POST <tsa URL> with application/timestamp-query over
//     SHA-256(signature) (sigstore-go pkg/sign/timestamping.go).
package sign
