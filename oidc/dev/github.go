package dev

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
)

// GitHubActionsClaims returns claims shaped like those of a GitHub Actions
// ID token for a push to ref of repository ("owner/name") running the
// workflow file workflowPath (".github/workflows/release.yml"): every claim
// Fulcio's GitHub template reads (sigstore/fulcio config/identity/config.yaml
// ci-issuer-metadata github-workflow), with sub in GitHub's
// "repo:owner/name:ref:refs/…" form. Commit SHAs, IDs and run numbers are
// derived from the arguments, so the same arguments give the same claims.
//
// Use it as Identity.Claims (with Email empty) or as Mint's argument:
//
//	iss.Mint(dev.GitHubActionsClaims("org/repo", ".github/workflows/release.yml", "refs/heads/main"))
func GitHubActionsClaims(repository, workflowPath, ref string) map[string]any {
	owner, _, _ := strings.Cut(repository, "/")
	workflowRef := repository + "/" + workflowPath + "@" + ref
	sha := derivedHex(repository+"\x00"+ref, 20)
	refType := "branch"
	if strings.HasPrefix(ref, "refs/tags/") {
		refType = "tag"
	}
	name := strings.TrimSuffix(strings.TrimSuffix(workflowPath[strings.LastIndex(workflowPath, "/")+1:], ".yml"), ".yaml")
	return map[string]any{
		"sub":                   "repo:" + repository + ":ref:" + ref,
		"repository":            repository,
		"repository_id":         derivedID(repository),
		"repository_owner":      owner,
		"repository_owner_id":   derivedID(owner),
		"repository_visibility": "public",
		"actor":                 owner,
		"actor_id":              derivedID(owner),
		"workflow":              name,
		"workflow_ref":          workflowRef,
		"workflow_sha":          sha,
		"job_workflow_ref":      workflowRef,
		"job_workflow_sha":      sha,
		"ref":                   ref,
		"ref_type":              refType,
		"ref_protected":         "false",
		"sha":                   sha,
		"event_name":            "push",
		"head_ref":              "",
		"base_ref":              "",
		"run_id":                derivedID(workflowRef),
		"run_number":            "1",
		"run_attempt":           "1",
		"runner_environment":    "github-hosted",
	}
}

func derivedHex(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:n])
}

// derivedID is a decimal ID string, as GitHub writes IDs in its tokens.
func derivedID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strconv.FormatUint(binary.BigEndian.Uint64(sum[:8])>>34, 10) // < 2^30, like GitHub's IDs
}
