package web

import "net/http"

func (p *Portal) approvals(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) requestView(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) requestDecide(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }
