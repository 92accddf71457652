package cli

import "github.com/spf13/cobra"

func init() { registerCommand("policy", newPolicyHelp) }

// newPolicyHelp is a help topic (a command without Run): "sigil help
// policy" prints the format of the files --policy reads (package policy).
func newPolicyHelp() *cobra.Command {
	return &cobra.Command{
		Use:   "policy",
		Short: "The YAML format of --policy files (sigil help policy)",
		Long: `A --policy file (verify-blob, verify-blob-attestation, verify-attestation) says
who must have signed, which predicate type an attestation must carry, and CEL
conditions that must all hold. Unknown fields are errors.

  identities:                    # any one may match
    - issuer: https://token.actions.githubusercontent.com
      subjectRegExp: ^https://github\.com/org/repo/\.github/workflows/release\.yml@refs/tags/v
      extensions:                # Fulcio certificate extensions by name, exact
        githubWorkflowTrigger: push
      extensionsRegExp:          # or by regular expression
        sourceRepositoryRef: ^refs/tags/v
  # key: cosign.pub              # instead of identities: a PEM public key, relative to this file
  predicateType: slsaprovenance1 # a URI or a short name (attestations; optional)
  conditions:                    # all must hold
    - name: built-by-github
      expression: predicate.runDetails.builder.id.startsWith("https://github.com/")
      message: the build did not run on GitHub Actions

issuer and subject (and their RegExp forms, unanchored as in cosign: write ^…$)
follow sigstore policy-controller's keyless identities. Extension names are
those of --certificate-extension (for example sourceRepositoryURI,
buildSignerURI, runnerEnvironment).

Each condition is a CEL expression that must evaluate to true. It sees:

  statement      map        the whole in-toto statement as JSON
  predicateType  string
  predicate      dyn        the predicate
  subject        list       the subjects
  certificate    map        the signer's identity: subject, issuer and every
                            Fulcio extension by name (empty for a key)
  now            timestamp

For verify-blob (a signature, not a statement) a condition may use only
certificate and now. JSON numbers are doubles; a missing field is an error and
fails the condition, so guard optional fields with has(…). A failure names the
condition and prints its message.`,
	}
}
