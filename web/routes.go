package web

import "net/http"

// routes lists every page. Each page's handlers live in the file named
// after it.
func (p *Portal) routes(m *http.ServeMux) {
	m.HandleFunc("GET /{$}", p.signedIn(p.overview))
	m.HandleFunc("GET /recommendations", p.signedIn(p.recommendations))
	m.HandleFunc("GET /recommendations/{key}", p.signedIn(p.recommendation))
	m.HandleFunc("GET /exempt", p.signedIn(p.exemptForm))
	m.HandleFunc("POST /exempt", p.signedIn(p.exempt))
	m.HandleFunc("POST /exempt/preview", p.signedIn(p.exemptPreview))
	m.HandleFunc("GET /request", p.signedIn(p.requestForm))
	m.HandleFunc("POST /request", p.signedIn(p.request))
	m.HandleFunc("GET /trigger", p.signedIn(p.triggerForm))
	m.HandleFunc("POST /trigger", p.signedIn(p.trigger))
	m.HandleFunc("GET /approvals", p.signedIn(p.approvals))
	m.HandleFunc("GET /requests/view", p.signedIn(p.requestView))
	m.HandleFunc("POST /requests/decide", p.signedIn(p.requestDecide))
	m.HandleFunc("GET /exemptions", p.signedIn(p.exemptions))
	m.HandleFunc("GET /exemptions/view", p.signedIn(p.exemptionView))
	m.HandleFunc("GET /exemptions/edit", p.signedIn(p.exemptionEditForm))
	m.HandleFunc("POST /exemptions/edit", p.signedIn(p.exemptionEdit))
	m.HandleFunc("POST /exemptions/delete", p.signedIn(p.exemptionDelete))
	m.HandleFunc("GET /resource", p.signedIn(p.resource))
	m.HandleFunc("GET /query", p.signedIn(p.queryPage))
	m.HandleFunc("GET /query/download", p.signedIn(p.queryDownload))
	m.HandleFunc("GET /audit", p.signedIn(p.audit))
}
