package web

import "net/http"

func (p *Portal) recommendations(w http.ResponseWriter, r *http.Request, s *session) {
	p.notYet(w, r, s)
}

func (p *Portal) recommendation(w http.ResponseWriter, r *http.Request, s *session) {
	p.notYet(w, r, s)
}
