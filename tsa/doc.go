// Package tsa is sigil's RFC 3161 timestamp authority as an HTTP service,
// wire-compatible with the Sigstore timestamp authority
// (sigstore/timestamp-authority openapi.yaml, pkg/api/timestamp.go), so
// cosign (--timestamp-server-url) and sigstore-go signers can use it.
//
// # HTTP API
//
//	POST /api/v1/timestamp
//	    Content-Type: application/timestamp-query   body: DER TimeStampReq (RFC 3161 §2.4.1)
//	    Content-Type: application/json              body: {"artifactHash": "<b64 digest>", "hashAlgorithm": "sha256|sha384|sha512",
//	                                                       "certificates": bool, "nonce": <integer>, "tsaPolicyOID": "1.3.6.1.4.1.57264.2"}
//	                                                (at most 1024 bytes, as the Sigstore TSA requires)
//	    → 200, Content-Type: application/timestamp-reply, body: DER TimeStampResp (RFC 3161 §2.4.2) with status granted
//	    → 400 for a request the TSA refuses. A DER request gets a TimeStampResp with
//	      status rejection(2), the PKIFailureInfo bit that says why and the reason as its
//	      statusString (RFC 3161 §2.4.2, §3.4: the HTTP answer to a TimeStampReq is a
//	      TimeStampResp); a JSON request gets the Sigstore TSA's error document
//	      {"code": 400, "message": "..."}.
//	    → 500 in the same forms (failInfo systemFailure) when the TSA cannot sign: its
//	      certificate is not valid now, or its key failed.
//	    → 415 for another Content-Type, 405 for another method.
//	GET  /api/v1/timestamp/certchain
//	    → 200, Content-Type: application/pem-certificate-chain: the TSA leaf, then
//	      any intermediates, then the root, as PEM.
//
// What a granted token states (the timestamp package's Signer): policy
// 1.3.6.1.4.1.57264.2 (the OID of the public Sigstore TSA's tokens), the
// request's message imprint, a random 159-bit serial number, genTime in UTC
// with whole seconds, accuracy 1 s, ordering false, the request's nonce
// echoed, and the TSA certificates embedded only when the request sets
// certReq / "certificates" (RFC 3161 §2.4.1). Refused: imprint hashes other
// than SHA-256/384/512 (SHA-1 as weak: badAlg), digests of the wrong length
// (badDataFormat), another policy (unacceptedPolicy), any request extension
// (unacceptedExtension).
//
// # Keys
//
// The TSA signs with a P-256 key whose certificate carries exactly one
// extended key usage, id-kp-timeStamping, marked critical (RFC 3161 §2.3),
// under a root of its own. On first start with a data directory, New
// generates both (the root's private key is used once and never stored) and
// writes key.pem (PKCS #8, mode 0600) and chain.pem (leaf first, root last);
// later starts load them. A key and chain can instead be given as files, or
// the key as any crypto.Signer (an HSM). Whatever the source, New checks
// before serving that the leaf matches the key, follows the RFC 3161
// profile and chains to the last certificate, and that a token it issues
// verifies.
//
// The trusted root lists the TSA with [Service.TrustedTSA]: the whole chain,
// leaf included, because Sigstore clients request no certificates and
// verifiers then take the leaf from the trusted root
// (sigstore/timestamp-authority pkg/verification/verify.go).
package tsa
