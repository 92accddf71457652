package ca_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"sigil.dev/sigil/ca"
	"sigil.dev/sigil/ca/keys"
	"sigil.dev/sigil/ctlog"
	"sigil.dev/sigil/oidc"
)

// Example composes a CA as "sigil server" does: the chain and key from
// "sigil ca init", the issuers from a configuration file, the CT log in
// process, and the API on a mux.
func Example() {
	c, err := keys.Open("/var/lib/sigil/ca", keys.Source{Password: keys.Password{Env: "SIGIL_CA_PASSWORD"}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	cfg, err := oidc.LoadConfig("/etc/sigil/issuers.yaml")
	if err != nil {
		log.Fatal(err)
	}
	identity, err := oidc.NewVerifier(cfg, oidc.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ct, err := ctlog.New(context.Background(), ctlog.Config{DataDir: "/var/lib/sigil/ct", PublicURL: "https://sigil.example/ct", Roots: c.Chain()[1:]})
	if err != nil {
		log.Fatal(err)
	}
	defer ct.Close()
	svc, err := ca.New(ca.Config{Signer: c.Signer, Chain: c.Chain(), Identity: identity, CT: ct, URL: "https://sigil.example"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", svc.Handler())
	mux.Handle("/ct/", ct.Handler())
	trusted, _ := svc.TrustedCA() // goes into the trusted root's certificateAuthorities
	fmt.Println(trusted.URI)
}
