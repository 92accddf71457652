package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"sigil.dev/sigil/rekor"
)

// ErrNoEntry is returned by FindHashedRekord when no log holds an entry
// for the signature.
var ErrNoEntry = errors.New("no transparency log entry for the signature")

// maxCandidates bounds the entries fetched for one lookup: the search
// answers entries by digest and signer, and one signer rarely logs one
// digest more than a few times.
const maxCandidates = 10

// LookupTimeout bounds one FindHashedRekord call, every log and request
// included: with the client's per-request timeout alone, a log that
// accepts connections and never answers held a lookup for minutes (one
// search and up to maxCandidates+1 fetches per log).
var LookupTimeout = time.Minute

// Lookup is a hashedrekord entry to find in Rekor v1 logs: the one a
// signer without a bundle (cosign sign-blob --output-signature, gitsign's
// online mode) left there.
type Lookup struct {
	// Hash and Digest are the artifact's digest, as logged.
	Hash   crypto.Hash
	Digest []byte
	// Signature, when set, must be the logged signature; nil takes the
	// one the entry records (the caller verifies it).
	Signature []byte
	// Certificate (DER) or Key is the signer the entry must name.
	Certificate []byte
	Key         crypto.PublicKey
}

// FindHashedRekord finds a hashedrekord 0.0.1 entry recording l in the
// logs: with a known signature by the UUID its canonical body has, else
// (or when that misses) by searching the log's index by digest and
// signer, fetching the candidates and keeping the first whose body
// records exactly that digest, signer and signature. It returns the entry
// with its log. Nothing is verified here: the caller checks the
// entry (inclusion proof, SET) by verifying the bundle it makes of it.
// The whole lookup ends after LookupTimeout.
func FindHashedRekord(ctx context.Context, logs []*RekorV1, l Lookup) (*protorekor.TransparencyLogEntry, *RekorV1, error) {
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	expired := func() error {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("couldn't search the log: no answer within %v", LookupTimeout)
		}
		return ctx.Err()
	}
	var signer []byte
	switch {
	case l.Certificate != nil:
		signer = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.Certificate})
	case l.Key != nil:
		der, err := x509.MarshalPKIXPublicKey(l.Key)
		if err != nil {
			return nil, nil, fmt.Errorf("couldn't encode the signer's key: %w", err)
		}
		signer = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	default:
		return nil, nil, errors.New("couldn't search the log: no certificate or key names the signer")
	}
	hashName := rekor.V1Name(l.Hash)
	if hashName == "" || len(l.Digest) != l.Hash.Size() {
		return nil, nil, fmt.Errorf("couldn't search the log: unsupported digest %v", l.Hash)
	}
	if len(logs) == 0 {
		return nil, nil, fmt.Errorf("%w: no Rekor v1 log to search", ErrNoEntry)
	}
	var why []string
	for _, lg := range logs {
		if l.Signature != nil {
			// The entry of a known signature has a known UUID: ask for
			// it by that, as cosign asks entries/retrieve for the exact
			// entry, so the best-effort index is not needed. Another
			// encoding of the signer than the log's canonical one
			// misses; the index search below then finds it.
			if tle, err := lg.Entry(ctx, l.uuid(signer)); err == nil && l.matches(tle.GetCanonicalizedBody(), hashName) {
				return tle, lg, nil
			}
		}
		if err := expired(); err != nil {
			return nil, nil, err
		}
		ids, err := lg.Search(ctx, SearchQuery{PEM: signer, Hash: hashName + ":" + hex.EncodeToString(l.Digest), And: true})
		if err := expired(); err != nil {
			return nil, nil, err
		}
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		if l.Signature != nil {
			ids = entryFirst(ids, l.uuid(signer))
		}
		if len(ids) > maxCandidates {
			ids = ids[:maxCandidates]
		}
		for _, id := range ids {
			tle, err := lg.Entry(ctx, id)
			if err := expired(); err != nil {
				return nil, nil, err
			}
			if err != nil {
				why = append(why, err.Error())
				continue
			}
			if l.matches(tle.GetCanonicalizedBody(), hashName) {
				return tle, lg, nil
			}
		}
		why = append(why, lg.URL()+" has none")
	}
	return nil, nil, fmt.Errorf("%w: %s", ErrNoEntry, strings.Join(why, "; "))
}

// uuid returns the entry UUID (leaf hash, in hex) of the canonical
// hashedrekord body a Rekor v1 log writes for l with a known signature.
func (l Lookup) uuid(signer []byte) string {
	leaf := rekor.LeafHash(rekor.HashedRekordV001(l.Hash, l.Digest, l.Signature, signer))
	return hex.EncodeToString(leaf[:])
}

// entryFirst moves the IDs naming the entry with this UUID (a 64-digit
// UUID, or an 80-digit ID ending in it) to the front. A signer that signed
// one digest many times (a key re-signing an unchanged artifact) has more
// entries than the candidates fetched, in the index's order: the entry of
// this very signature must not be cut off.
func entryFirst(ids []string, uuid string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if len(id) >= 64 && strings.EqualFold(id[len(id)-64:], uuid) {
			out = append(out, id)
		}
	}
	for _, id := range ids {
		if len(id) < 64 || !strings.EqualFold(id[len(id)-64:], uuid) {
			out = append(out, id)
		}
	}
	return out
}

// matches reports whether a canonical body records l.
func (l Lookup) matches(body []byte, hashName string) bool {
	b, err := rekor.ParseV1Body(body)
	if err != nil || b.Kind != rekor.KindHashedRekord || len(b.Signatures) != 1 ||
		b.Hash.Algorithm != hashName || !bytes.Equal(b.Hash.Value, l.Digest) {
		return false
	}
	s := b.Signatures[0]
	if l.Signature != nil && !bytes.Equal(s.Signature, l.Signature) {
		return false
	}
	blk, _ := pem.Decode(s.PEM)
	if blk == nil {
		return false
	}
	if l.Certificate != nil {
		return blk.Type == "CERTIFICATE" && bytes.Equal(blk.Bytes, l.Certificate)
	}
	var pub crypto.PublicKey
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
	default:
		return false
	}
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	return err == nil && ok && eq.Equal(l.Key)
}

// SignatureOf returns the signature a hashedrekord body records.
func SignatureOf(body []byte) ([]byte, error) {
	b, err := rekor.ParseV1Body(body)
	if err != nil {
		return nil, err
	}
	if b.Kind != rekor.KindHashedRekord || len(b.Signatures) != 1 {
		return nil, fmt.Errorf("not a hashedrekord entry")
	}
	return b.Signatures[0].Signature, nil
}
