package dev

import (
	"context"
	"testing"

	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/oidc/token"
)

// TestTokensPassTheCAVerifier checks the contract with sigil's CA: tokens of
// every flow verify with oidc.Verifier configured for the dev issuer, and the
// proof-of-possession subject the client computes (token.Claims.ProofSubject)
// is the challenge the CA checks.
func TestTokensPassTheCAVerifier(t *testing.T) {
	ctx := context.Background()
	email := newTestIssuer(t, Config{Identity: Identity{Email: "alice@example.com"}})
	gh := newTestIssuer(t, Config{Identity: Identity{Claims: GitHubActionsClaims("org/repo", ".github/workflows/release.yml", "refs/tags/v1.0.0")}})
	cfg := &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{
		email.URL(): {IssuerURL: email.URL(), ClientID: "sigstore", Type: oidc.TypeEmail},
		gh.URL():    {IssuerURL: gh.URL(), ClientID: "sigstore", Type: oidc.TypeCIProvider, CIProvider: "github-workflow"},
	}}
	v, err := oidc.NewVerifier(cfg, oidc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		iss     *testIssuer
		wantSAN string
	}{
		{"email identity", email, "alice@example.com"},
		{"GitHub-Actions-like identity", gh, "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tt.iss.Mint(nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("the CA refuses a dev token: %v", err)
			}
			c, err := token.Parse(tok)
			if err != nil {
				t.Fatal(err)
			}
			subj, err := c.ProofSubject()
			if err != nil || subj != p.Challenge || p.SAN != tt.wantSAN {
				t.Errorf("client proof subject %q (%v), CA challenge %q, SAN %q; want equal challenges and SAN %q", subj, err, p.Challenge, p.SAN, tt.wantSAN)
			}
		})
	}
}
