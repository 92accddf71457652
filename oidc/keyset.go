package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet is an issuer's JSON Web Key Set, fetched on first use and cached.
// It implements go-oidc's KeySet.
//
// go-oidc's RemoteKeySet refetches the set on every signature that fails,
// so a stream of tampered tokens becomes a stream of requests to the
// issuer. Here a token whose key ID is in the cached set is judged against
// the cached key alone; only an unknown key ID (the issuer rotated keys)
// causes a refetch, at most once per minRefresh. The set is also refetched
// when older than maxAge, keeping the old keys if that fails.
type keySet struct {
	url        string
	client     *http.Client
	algs       []string
	minRefresh time.Duration
	maxAge     time.Duration
	now        func() time.Time
	log        *slog.Logger

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt
	inflight  chan struct{}
}

func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := parseCompact(raw, k.algs)
	if err != nil {
		return nil, err
	}
	keys, stale := k.cached()
	if stale {
		keys = k.refresh(ctx, true)
	}
	known, err := jws.verify(keys)
	if known || err == nil {
		if err != nil {
			return nil, err
		}
		return jws.payload()
	}
	// Unknown key ID: the issuer may have rotated its keys.
	keys = k.refresh(ctx, false)
	if known, err = jws.verify(keys); err != nil {
		if !known {
			return nil, fmt.Errorf("no key with ID %q in the issuer's key set", jws.kid)
		}
		return nil, err
	}
	return jws.payload()
}

func (k *keySet) cached() ([]jose.JSONWebKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, k.fetchedAt.IsZero() || k.now().Sub(k.fetchedAt) > k.maxAge
}

// refresh fetches the key set unless one was tried within minRefresh
// (unless stale is set, meaning the cache is empty or too old), sharing one
// request among concurrent callers. It returns the current keys.
func (k *keySet) refresh(ctx context.Context, stale bool) []jose.JSONWebKey {
	k.mu.Lock()
	if k.inflight == nil {
		recent := !k.triedAt.IsZero() && k.now().Sub(k.triedAt) < k.minRefresh
		if recent && !(stale && k.fetchedAt.IsZero()) {
			keys := k.keys
			k.mu.Unlock()
			return keys
		}
		k.inflight = make(chan struct{})
		k.triedAt = k.now()
		go k.fetch(context.WithoutCancel(ctx), k.inflight)
	}
	ch := k.inflight
	k.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

func (k *keySet) fetch(ctx context.Context, done chan struct{}) {
	keys, err := k.get(ctx)
	k.mu.Lock()
	if err != nil {
		k.log.Warn("couldn't fetch the issuer's key set", "url", k.url, "error", err)
	} else {
		k.keys, k.fetchedAt = keys, k.now()
	}
	k.inflight = nil
	k.mu.Unlock()
	close(done)
}

func (k *keySet) get(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", k.url, resp.Status)
	}
	return parseJWKS(body)
}

// parseJWKS reads a JWK Set, skipping keys it cannot use: encryption keys,
// symmetric keys, private keys and key types go-jose does not know
// (RFC 7517 §5: implementations SHOULD ignore such keys).
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("couldn't parse key set: %v", err)
	}
	var out []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if !k.IsPublic() || !k.Valid() {
			continue
		}
		if _, symmetric := k.Key.([]byte); symmetric {
			continue
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("key set holds no usable public signing key")
	}
	return out, nil
}
