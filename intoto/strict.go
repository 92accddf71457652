package intoto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// checkStrict refuses statement JSON that readers would take differently.
// encoding/json matches keys case-insensitively, keeps the last of
// duplicate keys and stops after the first value; protojson (sigstore-go's
// reader) and most JSON tools do otherwise. So a payload with "subject"
// and "SUBJECT", or two "subject" keys, or data after the statement, could
// verify here against one subject while every other reader sees another.
// Refused: invalid UTF-8, data after the statement, and in the statement
// and its subjects duplicate keys, keys equal but for case, and a
// statement or subject field spelled in another case. The predicate is the
// predicate type's to define and is not inspected.
func checkStrict(payload []byte) error {
	if !utf8.Valid(payload) {
		return errors.New("in-toto statement is not valid UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	err := object(d, []string{"_type", "subject", "predicateType", "predicate"}, func(key string) error {
		if key != "subject" {
			return skip(d)
		}
		if t, err := d.Token(); err != nil || t != json.Delim('[') {
			return errors.New("subject is not an array")
		}
		for d.More() {
			if err := object(d, []string{"name", "digest", "uri", "mediaType", "annotations", "content", "downloadLocation"}, func(key string) error {
				if key == "digest" {
					return digestSet(d)
				}
				return skip(d)
			}); err != nil {
				return fmt.Errorf("subject: %w", err)
			}
		}
		_, err := d.Token() // ']'
		return err
	})
	if err != nil {
		return fmt.Errorf("couldn't parse in-toto statement: %w", err)
	}
	if len(bytes.TrimSpace(payload[d.InputOffset():])) > 0 {
		return errors.New("couldn't parse in-toto statement: data after the statement")
	}
	return nil
}

// object reads a JSON object from d, calling value for each key to consume
// its value, and refuses duplicate keys, keys equal but for case, and keys
// that are one of known in another case.
func object(d *json.Decoder, known []string, value func(key string) error) error {
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]string{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		folded := strings.ToLower(strings.ToUpper(key))
		if other, dup := seen[folded]; dup {
			return fmt.Errorf("keys %q and %q: a key appears twice (or in two cases)", other, key)
		}
		seen[folded] = key
		for _, k := range known {
			if key != k && strings.EqualFold(key, k) {
				return fmt.Errorf("key %q: the field is %q", key, k)
			}
		}
		if err := value(key); err != nil {
			return err
		}
	}
	_, err := d.Token() // '}'
	return err
}

// digestSet reads a subject's digest object and refuses an algorithm
// named twice: encoding/json keeps the last value, protojson (sigstore-go)
// refuses the statement, other readers keep the first. Names differing in
// case are distinct algorithms to every reader and stay allowed.
func digestSet(d *json.Decoder) error {
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return errors.New("digest is not a JSON object")
	}
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		alg, _ := t.(string)
		if seen[alg] {
			return fmt.Errorf("digest %q appears twice", alg)
		}
		seen[alg] = true
		if err := skip(d); err != nil {
			return err
		}
	}
	_, err := d.Token() // '}'
	return err
}

func skip(d *json.Decoder) error {
	var v json.RawMessage
	return d.Decode(&v)
}
