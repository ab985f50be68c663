package web

import "net/http"

func (p *Portal) triggerForm(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) trigger(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }
