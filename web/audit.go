package web

import "net/http"

func (p *Portal) audit(w http.ResponseWriter, r *http.Request, s *session) { p.notYet(w, r, s) }
