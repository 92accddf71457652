package sign_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/timestamp"
)

// TestTSARefusalExplained: a TSA that refuses a request answers with a
// TimeStampResp carrying no token (RFC 3161 §2.4.2), as sigil's TSA does
// with HTTP 400 or, for a failure of its own, 500. The error names the
// status, the failure and the TSA's reason instead of quoting the DER.
func TestTSARefusalExplained(t *testing.T) {
	for _, tc := range []struct {
		status   int
		failInfo int
		want     string
	}{
		{http.StatusInternalServerError, timestamp.FailSystemFailure, "systemFailure"},
		{http.StatusBadRequest, timestamp.FailBadAlg, "badAlg"},
		{http.StatusOK, timestamp.FailUnacceptedPolicy, "unacceptedPolicy"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/timestamp-reply")
			w.WriteHeader(tc.status)
			w.Write(timestamp.ErrorResponse(timestamp.StatusRejection, tc.failInfo))
		}))
		_, err := (&sign.TSAClient{URL: srv.URL}).Timestamp(context.Background(), []byte("sig"))
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "rejection") {
			t.Errorf("HTTP %d, %s: error %v, want one naming the rejection and %s", tc.status, tc.want, err, tc.want)
		}
	}
}
