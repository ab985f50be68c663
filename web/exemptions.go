package web

import "net/http"

func (p *Portal) exemptions(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) exemptionView(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) exemptionEditForm(w http.ResponseWriter, r *http.Request, s *session) {
	p.notYet(w, r, s)
}

func (p *Portal) exemptionEdit(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) exemptionDelete(w http.ResponseWriter, r *http.Request, s *session) {
	p.notYet(w, r, s)
}
