package notify

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
)

// Email is a rendered message: the subject and two alternative bodies. The
// SMTP channel sends them as multipart/alternative (RFC 2046 §5.1.4), plain
// text first so that clients which cannot show HTML pick it.
type Email struct {
	Subject string
	Text    string
	HTML    string
}

// RenderEmail renders m as an e-mail. For a request the subject follows the
// Request-ResourceExemption playbook's "Azure Security Center | Exemption
// request for resource {resourceDetails.id}", with posture as the product.
func RenderEmail(m *Message) (Email, error) {
	if err := m.Validate(); err != nil {
		return Email{}, err
	}
	c := newContent(m)
	var html bytes.Buffer
	// html/template escapes every value for its context: text, attribute,
	// and href (where it also refuses non-http schemes).
	if err := emailHTML.Execute(&html, c); err != nil {
		return Email{}, fmt.Errorf("notify: render e-mail: %w", err)
	}
	return Email{Subject: c.Subject, Text: plainText(c, true), HTML: html.String()}, nil
}

// footer warns recipients that action links act on their behalf.
const footer = "Sent by posture. The approve, reject and renew links are signed for the recipients of this message: do not forward it."

// plainText renders content as aligned "Label: value" lines, the form used
// by the e-mail text part and by ticket descriptions and comments.
func plainText(c content, withFooter bool) string {
	var b strings.Builder
	b.WriteString(c.Title)
	b.WriteString("\n\n")
	b.WriteString(c.Intro)
	b.WriteString("\n\n")
	width := 0
	for _, f := range c.Facts {
		width = max(width, len(f.Label))
	}
	for _, f := range c.Facts {
		value := f.Value
		if f.URL != "" {
			value += " <" + f.URL + ">"
		}
		lines := strings.Split(value, "\n")
		fmt.Fprintf(&b, "%-*s  %s\n", width+1, f.Label+":", lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "%-*s  %s\n", width+1, "", l)
		}
	}
	if len(c.Actions) > 0 {
		b.WriteString("\n")
		for _, a := range c.Actions {
			fmt.Fprintf(&b, "%s: %s\n", a.Title, a.URL)
		}
	}
	if withFooter {
		b.WriteString("\n-- \n")
		b.WriteString(footer)
		b.WriteString("\n")
	}
	return b.String()
}

var emailHTML = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;color:#1b1b1b;line-height:1.4">
<h2 style="margin:0 0 12px 0;font-size:18px">{{.Title}}</h2>
<p>{{.Intro}}</p>
<table role="presentation" cellpadding="4" cellspacing="0" style="border-collapse:collapse">
{{- range .Facts}}
<tr><th align="left" valign="top" style="padding-right:16px;white-space:nowrap">{{.Label}}</th><td style="white-space:pre-wrap;word-break:break-word">{{if .URL}}<a href="{{.URL}}">{{.Value}}</a>{{else}}{{.Value}}{{end}}</td></tr>
{{- end}}
</table>
{{- if .Actions}}
<p style="margin-top:20px">
{{- range .Actions}}
<a href="{{.URL}}" style="display:inline-block;padding:8px 18px;margin:0 8px 8px 0;border-radius:4px;text-decoration:none;font-weight:600;{{if eq .Style "positive"}}background:#107c10;color:#ffffff{{else if eq .Style "destructive"}}background:#a4262c;color:#ffffff{{else}}background:#f3f2f1;color:#1b1b1b;border:1px solid #8a8886{{end}}">{{.Title}}</a>
{{- end}}
</p>
{{- end}}
<p style="margin-top:24px;color:#605e5c;font-size:12px">` + footer + `</p>
</body>
</html>
`))
