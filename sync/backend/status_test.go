package backend

import (
	"strings"
	"testing"
)

// A server's error body reaches the user as one short sentence, never raw:
// no trace id, no JSON, no markup.
func TestStatusErrorIsOneSentence(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"Bad Request","status":400,"traceId":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00","detail":"The value 'anna' is not valid."}`,
			"GET /Users/anna: HTTP 400 Bad Request: The value 'anna' is not valid."},
		// Cut short by the transport's snippet: the start still says why.
		{400, `{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.","status":400,"traceId":"00-4bf92f3577b34da6a3ce929d`,
			"GET /Users/anna: HTTP 400 Bad Request: One or more validation errors occurred."},
		{404, `{"type":"x","title":"Not Found","status":404,"traceId":"00-ab"}`, "GET /Users/anna: HTTP 404 Not Found"},
		{401, "Access token is invalid or expired.", "GET /Users/anna: HTTP 401 Unauthorized: Access token is invalid or expired."},
		{500, "  Error  processing request.\n", "GET /Users/anna: HTTP 500 Internal Server Error: Error processing request."},
		{502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "GET /Users/anna: HTTP 502 Bad Gateway"},
		{500, `{"Items":[1,2,3]}`, "GET /Users/anna: HTTP 500 Internal Server Error"},
		{500, "", "GET /Users/anna: HTTP 500 Internal Server Error"},
	}
	for _, c := range cases {
		got := (&StatusError{Method: "GET", Path: "/Users/anna", Status: c.status, Body: c.body}).Error()
		if got != c.want {
			t.Errorf("HTTP %d %q:\n got %q\nwant %q", c.status, c.body, got, c.want)
		}
		if strings.Contains(got, "traceId") || strings.Contains(got, "\n") {
			t.Errorf("%q carries the raw body", got)
		}
	}
}
