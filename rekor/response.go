package rekor

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
)

// ParseV1LogEntry converts a Rekor v1 LogEntry answer into a bundle's
// TransparencyLogEntry (sigstore/rekor pkg/tle GenerateTransparencyLogEntry)
// and returns its entry ID.
func ParseV1LogEntry(b []byte) (*protorekor.TransparencyLogEntry, string, error) {
	var m map[string]struct {
		Body           []byte `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogID          string `json:"logID"`
		LogIndex       int64  `json:"logIndex"`
		Verification   *struct {
			InclusionProof *struct {
				Checkpoint string   `json:"checkpoint"`
				Hashes     []string `json:"hashes"`
				LogIndex   int64    `json:"logIndex"`
				RootHash   string   `json:"rootHash"`
				TreeSize   int64    `json:"treeSize"`
			} `json:"inclusionProof"`
			SignedEntryTimestamp []byte `json:"signedEntryTimestamp"`
		} `json:"verification"`
	}
	if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 {
		return nil, "", fmt.Errorf("couldn't parse log entry: not a map with one entry (%v)", err)
	}
	for id, a := range m {
		logID, err := hex.DecodeString(a.LogID)
		if err != nil {
			return nil, "", fmt.Errorf("couldn't parse log entry: logID: %w", err)
		}
		e := &protorekor.TransparencyLogEntry{LogIndex: a.LogIndex, LogId: &protocommon.LogId{KeyId: logID}, IntegratedTime: a.IntegratedTime, CanonicalizedBody: a.Body}
		if body, err := ParseV1Body(a.Body); err == nil {
			e.KindVersion = &protorekor.KindVersion{Kind: body.Kind, Version: body.APIVersion}
		} else {
			var kv struct{ Kind, APIVersion string }
			json.Unmarshal(a.Body, &kv) //nolint:errcheck
			e.KindVersion = &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion}
		}
		if v := a.Verification; v != nil {
			if len(v.SignedEntryTimestamp) > 0 {
				e.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: v.SignedEntryTimestamp}
			}
			if p := v.InclusionProof; p != nil {
				root, err := hex.DecodeString(p.RootHash)
				if err != nil {
					return nil, "", fmt.Errorf("couldn't parse log entry: rootHash: %w", err)
				}
				var hashes [][]byte
				for _, h := range p.Hashes {
					b, err := hex.DecodeString(h)
					if err != nil {
						return nil, "", fmt.Errorf("couldn't parse log entry: inclusion proof hash: %w", err)
					}
					hashes = append(hashes, b)
				}
				e.InclusionProof = &protorekor.InclusionProof{LogIndex: p.LogIndex, RootHash: root, TreeSize: p.TreeSize, Hashes: hashes,
					Checkpoint: &protorekor.Checkpoint{Envelope: p.Checkpoint}}
			}
		}
		return e, id, nil
	}
	panic("unreachable")
}
