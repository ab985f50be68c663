package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
)

// The query explorer runs the user's KQL through the Resource Graph API as
// the user: the rows are those the API lets them read.

const (
	// queryMaxBytes bounds a query's text. The query travels in the URL
	// (the form is a GET, so results are linkable), and the server reads
	// at most 64 KiB of request line and headers: 16 KiB of KQL fits even
	// when every character is percent-encoded.
	queryMaxBytes = 16 << 10
	// queryPageRows is how many rows one page of results shows.
	queryPageRows = 100
	// downloadMaxRows bounds a download; ARG answers at most 1,000 rows a
	// page, so a download follows $skipToken for up to ten pages.
	downloadMaxRows  = 10_000
	downloadPageRows = 1000
	// chartMaxCategories bounds a chart's bars or slices; the smallest
	// beyond it are summed as "other".
	chartMaxCategories = 20
	// cellMaxRunes is where a long cell is cut; the whole value stays
	// reachable (a title or a details element).
	cellMaxRunes = 120
)

// sample is a saved query the page offers as a link.
type sample struct {
	Name  string
	Query string
}

// samples are the saved queries. The first is the seed article's
// (Defender for Cloud's resource exemption post), verbatim.
var samples = []sample{
	{"Exempted assessments (Defender for Cloud's resource exemption article)", `securityresources
| where type == 'microsoft.security/assessments' and properties.status.cause == 'Exempt'
| extend assessmentKey = name, resourceId = tolower(trim(' ',tostring(properties.resourceDetails.Id))), healthStatus = properties.status.code, cause = properties.status.cause, reason = properties.status.description, displayName = properties.displayName
| project assessmentKey, id, name, displayName, resourceId, healthStatus, cause, reason`},
	{"Secure score per subscription (percent)", `securityresources
| where type == 'microsoft.security/securescores'
| project subscriptionId, score = round(100 * todouble(properties.score.percentage), 1)
| order by score asc`},
	{"Unhealthy assessments by severity", `securityresources
| where type == 'microsoft.security/assessments' and properties.status.code == 'Unhealthy'
| summarize count() by severity = tostring(properties.metadata.severity)
| order by count_ desc`},
	{"Exemptions expiring in the next 30 days", `policyresources
| where type == 'microsoft.authorization/policyexemptions'
| extend expiresOn = todatetime(properties.expiresOn)
| where isnotnull(expiresOn) and expiresOn >= now() and expiresOn <= now() + 30d
| project id, name, displayName = tostring(properties.displayName), category = tostring(properties.exemptionCategory), expiresOn, assignment = tostring(properties.policyAssignmentId)
| order by expiresOn asc`},
	{"Resources by type", `resources
| summarize count() by type
| order by count_ desc`},
	{"Recent denied requests (audit ledger)", `auditevents
| where properties.kind == 'Denied'
| project time = todatetime(properties.timestamp), caller = tostring(properties.caller), action = tostring(properties.action), scope = tostring(properties.scope)
| order by time desc
| take 50`},
}

// queryData is the query explorer page.
type queryData struct {
	Query   string
	Chart   string // "bar" or "pie"
	Samples []sample
	Ran     bool
	Err     *queryError

	Columns    []queryColumn
	Rows       [][]queryCell
	Total      int64
	Offset     int    // the offset of the page's first row
	SkipToken  string // the token this page was read with
	Next       string // the next page's token
	NextOffset int
	Truncated  bool // a take/limit result larger than one page

	ChartSVG   template.HTML
	ChartOther bool // categories beyond the limit were summed
	ChartPage  bool // the chart shows this page's rows of several

	MaxBytes    int
	DownloadMax int
}

func (queryData) PageTitle() (string, string) { return "Query explorer", "query" }

// Shown is how many rows the page shows; Last the number of the last.
func (d queryData) Shown() int { return len(d.Rows) }
func (d queryData) Last() int  { return d.Offset + len(d.Rows) }

type queryColumn struct {
	Name, Type string
	Num        bool
}

// queryCell is one value as the table shows it.
type queryCell struct {
	Text string // what the cell shows, cut when long
	Full string // the whole value when Text is cut (pretty JSON for objects)
	Link string // "resource" or "exemption": Full is an ARM id to link
	Num  bool
	Null bool
	JSON bool
	Cut  bool
}

// queryError is the API's answer to a query that failed, with Resource
// Graph's positions (the client package keeps only code and message).
type queryError struct {
	Status  int
	Code    string
	Message string
	Details []queryErrorDetail
}

type queryErrorDetail struct {
	Code, Message  string
	Line, Position int
	Positioned     bool
	// Excerpt is the query's line the error is on, and Caret a marker
	// under the position.
	Excerpt, Caret string
}

func (e *queryError) Error() string { return e.Code + ": " + e.Message }

// pageStatus is the page's HTTP status for an error.
func (e *queryError) pageStatus() int {
	if e.Status < 400 {
		return http.StatusInternalServerError
	}
	return e.Status
}

// checkQuery refuses an empty or too long query before it is sent.
func checkQuery(q string) *queryError {
	if strings.TrimSpace(q) == "" {
		return &queryError{Status: http.StatusBadRequest, Code: "QueryRequired", Message: "Type a KQL query."}
	}
	if len(q) > queryMaxBytes {
		return &queryError{Status: http.StatusBadRequest, Code: "QueryTooLong",
			Message: fmt.Sprintf("The query is %d bytes long; the explorer accepts at most %d bytes (%d KiB).", len(q), queryMaxBytes, queryMaxBytes>>10)}
	}
	return nil
}

// graphCall posts one Resource Graph request as the user. It sends the
// request itself, through the session's in-process client, rather than
// with client.Do: the API's parse errors carry line and
// characterPositionInLine, which client.Client drops.
func graphCall(ctx context.Context, s *session, q, format string, top int, skipToken string) (graphAnswer, error) {
	opts := map[string]any{"resultFormat": format}
	if top > 0 {
		opts["$top"] = top
	}
	if skipToken != "" {
		opts["$skipToken"] = skipToken
	}
	body, err := json.Marshal(map[string]any{"query": q, "options": opts})
	if err != nil {
		return graphAnswer{}, posture.Internal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.api.BaseURL+"/providers/Microsoft.ResourceGraph/resources?api-version="+graphVersion, bytes.NewReader(body))
	if err != nil {
		return graphAnswer{}, posture.Internal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.api.Token)
	resp, err := s.api.HTTP.Do(req)
	if err != nil {
		return graphAnswer{}, posture.Internal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return graphAnswer{}, posture.Internal(err)
	}
	if resp.StatusCode >= 300 {
		return graphAnswer{}, decodeQueryError(resp.StatusCode, data, q)
	}
	var a graphAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return graphAnswer{}, posture.Internal(err)
	}
	return a, nil
}

// decodeQueryError reads ARM's error envelope with ARG's positions.
func decodeQueryError(status int, data []byte, q string) *queryError {
	type detail struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		Line     *int   `json:"line"`
		Position *int   `json:"characterPositionInLine"`
	}
	var env struct {
		Error *struct {
			Code    string   `json:"code"`
			Message string   `json:"message"`
			Details []detail `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &env) != nil || env.Error == nil {
		return &queryError{Status: status, Code: http.StatusText(status), Message: "The query could not be run."}
	}
	e := &queryError{Status: status, Code: env.Error.Code, Message: env.Error.Message}
	lines := strings.Split(q, "\n")
	for _, d := range env.Error.Details {
		qd := queryErrorDetail{Code: d.Code, Message: d.Message}
		if d.Line != nil && d.Position != nil {
			qd.Positioned, qd.Line, qd.Position = true, *d.Line, *d.Position
			if qd.Line >= 1 && qd.Line <= len(lines) {
				l := strings.TrimRight(lines[qd.Line-1], "\r")
				qd.Excerpt = l
				// Positions are 1-based, in runes.
				qd.Caret = strings.Repeat(" ", min(max(qd.Position-1, 0), utf8.RuneCountInString(l))) + "^"
			}
		}
		e.Details = append(e.Details, qd)
	}
	return e
}

// asQueryError turns any error of a query into what the page shows.
func asQueryError(err error) *queryError {
	if qe, ok := err.(*queryError); ok {
		return qe
	}
	return &queryError{Status: api.StatusOf(err), Code: "Error", Message: errorText(err)}
}

// graphTable is the "table" result format.
type graphTable struct {
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
	Rows [][]json.RawMessage `json:"rows"`
}

func numericType(t string) bool {
	switch strings.ToLower(t) {
	case "integer", "number", "int", "long", "real", "double", "decimal":
		return true
	}
	return false
}

// queryPage is GET /query: the form, and the results when q is given.
func (p *Portal) queryPage(w http.ResponseWriter, r *http.Request, s *session) {
	v := r.URL.Query()
	d := queryData{Query: v.Get("q"), Chart: "bar", Samples: samples, MaxBytes: queryMaxBytes, DownloadMax: downloadMaxRows}
	if v.Get("chart") == "pie" {
		d.Chart = "pie"
	}
	if d.Query == "" {
		p.render(w, r, s, http.StatusOK, "query", d)
		return
	}
	d.Ran = true
	if qe := checkQuery(d.Query); qe != nil {
		d.Err = qe
		p.render(w, r, s, qe.pageStatus(), "query", d)
		return
	}
	d.SkipToken = v.Get("skipToken")
	if d.SkipToken != "" {
		d.Offset, _ = strconv.Atoi(v.Get("offset"))
		d.Offset = max(d.Offset, 0)
	}
	a, err := graphCall(r.Context(), s, d.Query, "table", queryPageRows, d.SkipToken)
	if err != nil {
		d.Err = asQueryError(err)
		p.render(w, r, s, d.Err.pageStatus(), "query", d)
		return
	}
	var t graphTable
	if len(a.Data) > 0 {
		if err := json.Unmarshal(a.Data, &t); err != nil {
			p.fail(w, r, s, posture.Internal(err))
			return
		}
	}
	d.Total, d.Next, d.Truncated = a.TotalRecords, a.SkipToken, a.Truncated == "true"
	for _, c := range t.Columns {
		d.Columns = append(d.Columns, queryColumn{Name: c.Name, Type: c.Type, Num: numericType(c.Type)})
	}
	for _, row := range t.Rows {
		cells := make([]queryCell, len(d.Columns))
		for j := range d.Columns {
			var raw json.RawMessage
			if j < len(row) {
				raw = row[j]
			}
			cells[j] = makeCell(raw)
		}
		d.Rows = append(d.Rows, cells)
	}
	d.NextOffset = d.Offset + len(d.Rows)
	if svg, other, ok := resultChart(d.Columns, t.Rows, d.Chart); ok {
		d.ChartSVG, d.ChartOther = svg, other
		d.ChartPage = d.Next != "" || d.SkipToken != ""
	}
	p.render(w, r, s, http.StatusOK, "query", d)
}

// makeCell renders one JSON value of the table format.
func makeCell(raw json.RawMessage) queryCell {
	raw = bytes.TrimSpace(raw)
	var c queryCell
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return queryCell{Null: true}
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		c.Text = s
		c.Link = linkKind(s)
	case raw[0] == '{' || raw[0] == '[':
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			c.Text = b.String()
		} else {
			c.Text = string(raw)
		}
		c.JSON = true
	default:
		c.Text, c.Num = string(raw), true
	}
	c.Full = c.Text
	// Long values are cut, except ids: they are read in full.
	if c.Link == "" && utf8.RuneCountInString(c.Text) > cellMaxRunes {
		c.Cut = true
		if c.JSON {
			c.Full = prettyJSON(raw)
		}
		c.Text = truncate(c.Text, cellMaxRunes)
	}
	return c
}

// linkKind says which page shows an ARM id: exemptions have their own,
// other ids under a subscription the resource page; anything else (a
// tenant-level id, text) is not linked.
func linkKind(s string) string {
	if len(s) > 2048 || strings.ContainsAny(s, " \t\r\n") {
		return ""
	}
	l := strings.ToLower(s)
	switch {
	case !strings.HasPrefix(l, "/"):
		return ""
	case strings.Contains(l, "/providers/microsoft.authorization/policyexemptions/"):
		return "exemption"
	case strings.HasPrefix(l, "/subscriptions/") && strings.Count(l, "/") > 2:
		return "resource"
	}
	return ""
}

// resultChart draws a result of one string column and one numeric column
// (a summarize count() by x) as bars or a pie: the largest categories,
// the rest summed as "other".
func resultChart(cols []queryColumn, rows [][]json.RawMessage, kind string) (template.HTML, bool, bool) {
	if len(cols) != 2 || len(rows) == 0 {
		return "", false, false
	}
	li, vi := -1, -1
	for j, c := range cols {
		switch {
		case c.Num:
			vi = j
		case strings.EqualFold(c.Type, "string"):
			li = j
		}
	}
	if li < 0 || vi < 0 {
		return "", false, false
	}
	type cat struct {
		label string
		value float64
	}
	var cats []cat
	index := map[string]int{}
	for _, row := range rows {
		if len(row) != 2 {
			continue
		}
		var label string
		if json.Unmarshal(row[li], &label) != nil || label == "" {
			label = "(empty)"
		}
		var v float64
		if json.Unmarshal(row[vi], &v) != nil {
			continue // null
		}
		if i, ok := index[label]; ok {
			cats[i].value += v
			continue
		}
		index[label] = len(cats)
		cats = append(cats, cat{label, v})
	}
	if len(cats) == 0 {
		return "", false, false
	}
	slices.SortStableFunc(cats, func(a, b cat) int { return cmp.Compare(b.value, a.value) })
	other := false
	if len(cats) > chartMaxCategories {
		rest := 0.0
		for _, c := range cats[chartMaxCategories-1:] {
			rest += c.value
		}
		cats = append(cats[:chartMaxCategories-1], cat{"other", rest})
		other = true
	}
	labels := make([]string, len(cats))
	values := make([]float64, len(cats))
	for i, c := range cats {
		labels[i], values[i] = c.label, c.value
	}
	title := cols[vi].Name + " by " + cols[li].Name
	if kind == "pie" {
		return pieChart(title, labels, values), other, true
	}
	return barChart(title, labels, values), other, true
}

// queryDownload is GET /query/download?format=csv|json&q=…: up to
// downloadMaxRows rows as an attachment, page after page as the API
// answers them.
func (p *Portal) queryDownload(w http.ResponseWriter, r *http.Request, s *session) {
	v := r.URL.Query()
	q, format := v.Get("q"), v.Get("format")
	d := queryData{Query: q, Chart: "bar", Samples: samples, Ran: true, MaxBytes: queryMaxBytes, DownloadMax: downloadMaxRows}
	if format != "csv" && format != "json" {
		d.Err = &queryError{Status: http.StatusBadRequest, Code: "InvalidFormat", Message: "Downloads are in format csv or json."}
	} else {
		d.Err = checkQuery(q)
	}
	if d.Err != nil {
		p.render(w, r, s, d.Err.pageStatus(), "query", d)
		return
	}
	resultFormat := "objectArray"
	if format == "csv" {
		resultFormat = "table"
	}
	ctx := r.Context()
	a, err := graphCall(ctx, s, q, resultFormat, downloadPageRows, "")
	if err != nil {
		d.Err = asQueryError(err)
		p.render(w, r, s, d.Err.pageStatus(), "query", d)
		return
	}
	h := w.Header()
	name := "query-" + p.Now().UTC().Format("20060102-150405") + "." + format
	if format == "csv" {
		h.Set("Content-Type", "text/csv; charset=utf-8; header=present")
	} else {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Total-Records", strconv.FormatInt(a.TotalRecords, 10))
	if a.TotalRecords > downloadMaxRows || a.Truncated == "true" {
		h.Set("X-Result-Truncated", "true")
	}
	// A page that fails after the first has been sent cannot change the
	// status: the trailer says so, and a JSON download is left without
	// its closing bracket, so that it does not parse.
	h.Set("Trailer", "X-Download-Error")
	var out downloadWriter
	if format == "csv" {
		out = newCSVDownload(w)
	} else {
		out = &jsonDownload{w: w}
	}
	n := 0
	for {
		m, err := out.page(a.Data, downloadMaxRows-n)
		if err != nil {
			p.downloadFailed(w, r, err)
			return
		}
		n += m
		if a.SkipToken == "" || n >= downloadMaxRows {
			break
		}
		if a, err = graphCall(ctx, s, q, resultFormat, downloadPageRows, a.SkipToken); err != nil {
			p.downloadFailed(w, r, err)
			return
		}
	}
	if err := out.close(); err != nil {
		p.Logger.Warn("query download", "err", err)
	}
}

func (p *Portal) downloadFailed(w http.ResponseWriter, r *http.Request, err error) {
	p.Logger.Warn("query download failed after the first page", "path", r.URL.Path, "err", err)
	w.Header().Set("X-Download-Error", errorText(err))
}

// downloadWriter writes the pages of a download.
type downloadWriter interface {
	// page writes at most limit rows of one page's data and says how many
	// it wrote.
	page(data json.RawMessage, limit int) (int, error)
	close() error
}

// csvDownload writes RFC 4180 CSV (CRLF line ends, fields quoted when
// they hold a comma, quote or line break). A text cell a spreadsheet
// would run as a formula gets a leading apostrophe.
type csvDownload struct {
	w      *csv.Writer
	header bool
}

func newCSVDownload(w io.Writer) *csvDownload {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return &csvDownload{w: cw}
}

func (c *csvDownload) page(data json.RawMessage, limit int) (int, error) {
	var t graphTable
	if len(data) > 0 {
		if err := json.Unmarshal(data, &t); err != nil {
			return 0, posture.Internal(err)
		}
	}
	if !c.header {
		c.header = true
		rec := make([]string, len(t.Columns))
		for i, col := range t.Columns {
			rec[i] = csvSafe(col.Name)
		}
		if err := c.w.Write(rec); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, row := range t.Rows {
		if n >= limit {
			break
		}
		rec := make([]string, len(t.Columns))
		for j := range rec {
			if j < len(row) {
				rec[j] = csvCell(row[j])
			}
		}
		if err := c.w.Write(rec); err != nil {
			return n, err
		}
		n++
	}
	c.w.Flush()
	return n, c.w.Error()
}

func (c *csvDownload) close() error {
	c.w.Flush()
	return c.w.Error()
}

// csvCell is a JSON value as a CSV field: strings as they are (made
// safe), numbers and booleans as JSON writes them, objects and arrays as
// compact JSON, null as an empty field.
func csvCell(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return ""
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		return csvSafe(s)
	case raw[0] == '{' || raw[0] == '[':
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return csvSafe(string(raw))
		}
		return b.String()
	}
	return string(raw) // a number or a boolean: never a formula
}

// csvSafe neutralises spreadsheet formula injection: a text that starts
// with = + - @ (or a tab or carriage return, which some spreadsheets skip
// before one) is prefixed with an apostrophe, so it stays text.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// jsonDownload writes one JSON array of the rows (objectArray).
type jsonDownload struct {
	w       io.Writer
	started bool
	n       int
}

func (j *jsonDownload) page(data json.RawMessage, limit int) (int, error) {
	var rows []json.RawMessage
	if len(data) > 0 {
		if err := json.Unmarshal(data, &rows); err != nil {
			return 0, posture.Internal(err)
		}
	}
	var b bytes.Buffer
	if !j.started {
		j.started = true
		b.WriteString("[")
	}
	n := 0
	for _, row := range rows {
		if n >= limit {
			break
		}
		if j.n > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		if err := json.Compact(&b, row); err != nil {
			return n, posture.Internal(err)
		}
		j.n++
		n++
	}
	_, err := j.w.Write(b.Bytes())
	return n, err
}

func (j *jsonDownload) close() error {
	s := "\n]\n"
	if !j.started {
		s = "[]\n"
	}
	_, err := io.WriteString(j.w, s)
	return err
}
