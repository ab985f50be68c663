package web

import (
	"net/http"

	"github.com/posture/posture"
)

// notYet answers a page that is not built yet with a clear error.
func (p *Portal) notYet(w http.ResponseWriter, r *http.Request, s *session) {
	p.fail(w, r, s, posture.Errorf(posture.ENOTFOUND, "PageNotAvailable", "This page is not available yet."))
}
