package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

// A static path that is not UTF-8 is a missing file, not a server error
// (found by the request fuzzer: GET /static/%C0%AF answered 500).
func TestStaticFilesOddNames(t *testing.T) {
	h := staticFiles(fstest.MapFS{"app.css": {Data: []byte("body{}")}})
	for path, want := range map[string]int{
		"/app.css":   http.StatusOK,
		"/nope.css":  http.StatusNotFound,
		"/\xc0\xaf":  http.StatusNotFound,
		"/\xff/x":    http.StatusNotFound,
		"/a\x00":     http.StatusNotFound,
		"/é.css":     http.StatusNotFound,
		"/../go.mod": http.StatusNotFound,
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = path
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("GET %q: %d, want %d", path, w.Code, want)
		}
	}
}
