package tlog

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
)

// bytesFieldsV1 and bytesFieldsV2 name the JSON members that carry bytes
// as base64 in Rekor v1 proposed entries and v2 requests (both spellings
// of protojson names).
var (
	bytesFieldsV1 = map[string]bool{"content": true}
	bytesFieldsV2 = map[string]bool{"digest": true, "content": true, "rawBytes": true, "raw_bytes": true, "payload": true, "sig": true}
)

// badBase64Field finds, after a decoding error, the first member named in
// fields whose string does not decode with decode, and returns its path
// (such as "spec.signature.content") and the decoding error; "" if there
// is none, so that the caller keeps the decoder's own message. It runs on
// the error path only.
func badBase64Field(raw []byte, fields map[string]bool, decode func(string) error) (string, error) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "", nil
	}
	var walk func(v any, path string) (string, error)
	walk = func(v any, path string) (string, error) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if s, ok := c.(string); ok && fields[k] {
					if err := decode(s); err != nil {
						return p, err
					}
					continue
				}
				if p, err := walk(c, p); p != "" {
					return p, err
				}
			}
		case []any:
			for i, c := range x {
				if p, err := walk(c, path+"["+strconv.Itoa(i)+"]"); p != "" {
					return p, err
				}
			}
		}
		return "", nil
	}
	return walk(v, "")
}

// stdBase64 is how encoding/json decodes []byte: standard alphabet, padded.
func stdBase64(s string) error {
	_, err := base64.StdEncoding.DecodeString(s)
	return err
}

// protoBase64 is how protojson decodes bytes (decodeB64).
func protoBase64(s string) error {
	_, err := decodeB64([]byte(s))
	return err
}
