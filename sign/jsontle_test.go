package sign

import (
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

func jsonTLE(e *protorekor.TransparencyLogEntry) ([]byte, error) { return protojson.Marshal(e) }
