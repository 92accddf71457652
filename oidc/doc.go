// Package oidc verifies the OpenID Connect identity tokens a Sigstore CA
// accepts and turns them into principals: the subject alternative name,
// the Fulcio certificate extensions and the message a proof of possession
// must sign.
//
// The issuer configuration file is Fulcio's (sigstore/fulcio
// pkg/config/config.go), in YAML or JSON: exact issuers (oidc-issuers),
// wildcard issuers (meta-issuers, anchored patterns in which "*" matches
// one [-_a-zA-Z0-9]+ run), and templates for CI providers
// (ci-issuer-metadata). Identity types and what they certify
// (sigstore/fulcio pkg/identity/*/principal.go):
//
//	email            SAN rfc822Name = email (email_verified required unless
//	                 skip-email-verification); proof signs the email
//	github-workflow  SAN URI https://github.com/{job_workflow_ref}; extensions
//	                 .2–.6 and .9–.23 from the built-in GitHub template
//	gitlab-pipeline  SAN URI https://{ci_config_ref_uri}; .9–.23 from the
//	                 built-in GitLab template
//	buildkite-job    SAN URI https://buildkite.com/{organization_slug}/{pipeline_slug};
//	                 the built-in Buildkite template
//	codefresh-workflow SAN URI {platform_url}/{account_name}/{pipeline_name}:{account_id}/{pipeline_id};
//	                 the built-in Codefresh template
//	chainguard-identity SAN URI {iss}/{sub}; proof signs the email if the
//	                 token has one, else the sub
//	kubernetes       SAN URI https://kubernetes.io/namespaces/{ns}/serviceaccounts/{sa}
//	spiffe           SAN URI = sub, a SPIFFE ID in spiffe-trust-domain
//	uri              SAN URI = sub, under subject-domain's scheme and host
//	username         OtherName SAN "sub!subject-domain"
//	ci-provider      SAN and extensions rendered from ci-issuer-metadata
//
// Every certificate also gets the issuer (.1 raw and .8 DER) and the raw
// token subject (.24). All types but email and chainguard-identity sign
// the sub as proof. CircleCI is built in as the ci-provider template
// "circleci-job", as the public-good Fulcio names it.
//
// Beyond Fulcio, an issuer may carry a claim-policy: claims that must match
// anchored regular expressions, so that trusting GitHub's issuer does not
// mean certifying every workflow on GitHub (sigstore/fulcio#1989).
package oidc
