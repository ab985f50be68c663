package web

import "net/http"

func (p *Portal) exemptForm(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) exempt(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) exemptPreview(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) requestForm(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) request(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }
