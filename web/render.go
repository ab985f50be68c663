package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/armid"
)

// page is one page's template: the layout plus the page's file.
type page struct {
	t *template.Template
}

// parsePages parses templates/layout.html with each other template file.
func parsePages() (map[string]*page, error) {
	layout, err := fs.ReadFile(files, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*page{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		body, err := fs.ReadFile(files, n)
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err == nil {
			_, err = t.New(name).Parse(string(body))
		}
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		out[name] = &page{t: t}
	}
	return out, nil
}

// view is what the layout gets: the page's data and the session.
type view struct {
	Title string
	Nav   string
	User  string
	CSRF  string
	OIDC  bool
	Data  any
}

// titled is implemented by page data that names the page.
type titled interface {
	PageTitle() (title, nav string)
}

// render writes a page. s is nil on pages without a session (sign-in).
func (p *Portal) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, data any) {
	pg := p.pages[name]
	if pg == nil {
		p.Logger.Error("no such page template", "name", name)
		http.Error(w, "page not found", http.StatusInternalServerError)
		return
	}
	v := view{Data: data, OIDC: p.OIDC}
	if t, ok := data.(titled); ok {
		v.Title, v.Nav = t.PageTitle()
	}
	if s != nil {
		v.User, v.CSRF = s.Name(), s.csrf
	}
	// Render to a buffer first: a template error then gives a clean 500,
	// not half a page.
	var b bytes.Buffer
	if err := pg.t.ExecuteTemplate(&b, "layout", v); err != nil {
		p.Logger.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "The page could not be rendered.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// fragment writes one named template of a page without the layout: the
// answer to an htmx request.
func (p *Portal) fragment(w http.ResponseWriter, s *session, name, block string, data any) {
	var b bytes.Buffer
	if err := p.pages[name].t.ExecuteTemplate(&b, block, view{Data: data, CSRF: s.csrf}); err != nil {
		p.Logger.Error("rendering a fragment", "page", name, "block", block, "err", err)
		http.Error(w, "The fragment could not be rendered.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// errorData is the error page.
type errorData struct {
	Status  int
	Code    string
	Message string
	Details []*posture.Error
	// RetryAfter is the wait, in seconds, of a throttled page (429).
	RetryAfter int
}

func (e errorData) PageTitle() (string, string) { return http.StatusText(e.Status), "" }

// fail shows an error page with the API's code and message.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status := api.StatusOf(err)
	d := errorData{Status: status, Message: errorText(err)}
	if pe, ok := err.(*posture.Error); ok {
		d.Code, d.Details = pe.Code, pe.Details
	}
	// The user's rate limit: the page says when to come back, and the
	// browser (or a script reading the page) gets the API's Retry-After.
	if status == http.StatusTooManyRequests && s != nil {
		if n := s.retryAfter.Load(); n > 0 {
			d.RetryAfter = int(n)
			w.Header().Set("Retry-After", strconv.FormatInt(n, 10))
		}
	}
	if status >= 500 {
		p.Logger.Error("portal page", "path", r.URL.Path, "err", err)
	}
	p.render(w, r, s, status, "error", d)
}

var funcs = template.FuncMap{
	"short": func(id string) string {
		if i := strings.LastIndexByte(id, '/'); i >= 0 {
			return id[i+1:]
		}
		return id
	},
	"date": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02")
		case *time.Time:
			if v == nil || v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02")
		case string:
			if len(v) >= 10 {
				return v[:10]
			}
			return v
		}
		return ""
	},
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"pct":  func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"pct1": func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"num": func(f float64) string {
		if f == float64(int64(f)) {
			return fmt.Sprintf("%d", int64(f))
		}
		return fmt.Sprintf("%.2f", f)
	},
	"lower": strings.ToLower,
	"query": func(kv ...string) string {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		return q.Encode()
	},
	"json":      prettyJSON,
	"scopeName": idName,
	"add":       func(a, b int) int { return a + b },
	"list":      func(s ...string) []string { return s },
	"slug":      func(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "-")) },
}

// idName is the last name of an ARM id (the id itself if it does not
// parse).
func idName(id string) string {
	x, err := armid.Parse(id)
	if err != nil {
		return id
	}
	return x.Name()
}

// prettyJSON indents a document for display.
func prettyJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}
