// Package gitsign signs and verifies git commits and tags keyless, in the
// format of sigstore/gitsign, through git's x509 signing-program interface
// (gpg.format=x509, gpg.x509.program).
//
// # Format
//
// A signature is a detached CMS SignedData (RFC 5652), armored as a PEM
// "SIGNED MESSAGE" block, whose one signer signs the attributes content
// type, signing time and SHA-256 of the commit or tag without its signature
// (see Signature). The certificate bag holds the signer's ten-minute
// certificate from a Fulcio-compatible CA. Git stores the block in the
// commit header "gpgsig" (or "gpgsig-sha256") or after the tag message
// (see SplitCommit, SplitTag).
//
// # Transparency log modes
//
// The certificate expires ten minutes after issue, so a signature is only
// worth what a transparency log (or a timestamp authority) proves about
// when it was made. Two modes, as gitsign's gitsign.rekorMode:
//
//   - Offline (sigil's default): the signed attributes are the artifact of
//     a hashedrekord entry (SHA-256 of their DER, the SignerInfo signature,
//     the certificate); the entry, with its inclusion proof, SET and
//     checkpoint, is embedded as a serialized TransparencyLogEntry in the
//     unsigned attribute 1.3.6.1.4.1.57264.3.1 (canonicalizedBody cleared,
//     rebuilt on verification). RFC 3161 tokens over the signature go in
//     the unsigned attribute 1.2.840.113549.1.9.16.2.14. Verification needs
//     no network: it is a Sigstore bundle verification (see
//     Signature.Bundle, sigstore/gitsign docs/bundle-cms.md) against the
//     trusted root, at the log's (or TSA's) time.
//   - Online (gitsign's default): nothing is embedded; the log gets a
//     hashedrekord over SHA-256 of the hex ID of the commit or tag the
//     signature makes (ObjectID), signed with the same key. Verification
//     finds it through the Rekor v1 search index (POST
//     /api/v1/index/retrieve by certificate and digest) and verifies it.
//
// # Git's signing program
//
// Program implements the command line git runs (gpg-style options, status
// lines on --status-fd, see Status). A signature verifies with
// TRUST_FULLY when the certificate identity matched a configured policy,
// with TRUST_UNDEFINED when no policy was configured (git then accepts it
// unless gpg.minTrustLevel says otherwise, and %G? shows U).
//
// # Credentials
//
// Cache keeps the ephemeral key and certificate in a file private to the
// user while the certificate is valid, so a series of commits needs one
// sign-in.
package gitsign
