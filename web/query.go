package web

import "net/http"

func (p *Portal) queryPage(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }

func (p *Portal) queryDownload(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }
