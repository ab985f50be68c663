package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRepairLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"GET /a?$filter=x eq 'y z' HTTP/1.1\r\n", "GET /a?$filter=x%20eq%20'y%20z' HTTP/1.1\r\n"},
		{"GET /a?b=c HTTP/1.1\r\n", "GET /a?b=c HTTP/1.1\r\n"},
		{"Host: example com\r\n", "Host: example com\r\n"},
		{`{"a": "GET / x HTTP/1.1"}` + "\n", `{"a": "GET / x HTTP/1.1"}` + "\n"},
		{"GET /a b\r\n", "GET /a b\r\n"},
	}
	for _, tt := range tests {
		if got := string(repairLine([]byte(tt.in))); got != tt.want {
			t.Errorf("repairLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRepairedServer sends, on one connection, pipelined requests with
// raw spaces in their queries, a Content-Length body and a chunked body
// that contain request-like lines, and checks that the server saw each
// request and each body exactly.
func TestRepairedServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- r.Method + " " + r.URL.Query().Get("$filter") + " " + string(b)
		w.Write([]byte("ok"))
	})}
	go srv.Serve(RepairRequestLines(ln))
	defer srv.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "line one\nGET /evil?x=a b HTTP/1.1\n"
	chunk := "PUT /x y HTTP/1.1\r\n"
	raw := "GET /a?api-version=1&$filter=policyDefinitionId eq 'x y' HTTP/1.1\r\nHost: h\r\n\r\n" +
		fmt.Sprintf("POST /b?$filter=a eq 'b' HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", len(body), body) +
		fmt.Sprintf("PUT /c?$filter=c eq 'd' HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(chunk), chunk) +
		"GET /d?$filter=atScope() HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for i := 0; i < 4; i++ {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("response %d: status %d", i, resp.StatusCode)
		}
	}
	want := []string{
		"GET policyDefinitionId eq 'x y' ",
		"POST a eq 'b' " + body,
		"PUT c eq 'd' " + chunk,
		"GET atScope() ",
	}
	for i, w := range want {
		if got := <-seen; got != w {
			t.Errorf("request %d: server saw %q, want %q", i, got, w)
		}
	}
}

// FuzzRepairConn feeds arbitrary streams through the framing: it must not
// panic or lose bytes, and a stream whose lines carry no spaces inside a
// request target comes out unchanged.
func FuzzRepairConn(f *testing.F) {
	f.Add([]byte("GET /a?x=1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n"))
	f.Add([]byte("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("GET /a?f=a b HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &repairConn{r: bufio.NewReaderSize(strings.NewReader(string(in)), 16)}
		out, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(out) < len(in) {
			t.Fatalf("lost bytes: %d in, %d out", len(in), len(out))
		}
		// The only change allowed is a space becoming %20.
		if strings.ReplaceAll(string(out), "%20", " ") != strings.ReplaceAll(string(in), "%20", " ") {
			t.Fatalf("changed more than spaces: %q -> %q", in, out)
		}
		if !strings.Contains(string(in), " HTTP/") && string(out) != string(in) {
			t.Fatalf("changed a stream without request lines: %q -> %q", in, out)
		}
	})
}

// A read deadline is transient: net/http sets one in the past to stop its
// background read after each handler and then reads the next request of
// the keep-alive connection. The wrapper must deliver that request.
func TestRepairConnSurvivesDeadline(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	rc := &repairConn{Conn: a, r: bufio.NewReader(a)}
	buf := make([]byte, 256)
	a.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := rc.Read(buf); !isTimeout(err) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	a.SetReadDeadline(time.Time{})
	go b.Write([]byte("GET /x?$filter=a eq 'b' HTTP/1.1\r\nHost: h\r\n\r\n"))
	n, err := rc.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "GET /x?$filter=a%20eq%20'b' HTTP/1.1\r\n") {
		t.Fatalf("after the deadline: %q %v", buf[:n], err)
	}
}

// Many requests over keep-alive connections of a real server: none is
// dropped (the failure this guards against was "connection reset by
// peer" on a reused connection).
func TestRepairedServerKeepAlive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, r.URL.Query().Get("$filter"))
	})}
	go srv.Serve(RepairRequestLines(ln))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for i := range 300 {
		req, _ := http.NewRequest(http.MethodPut, "http://"+ln.Addr().String()+"/x?$filter="+fmt.Sprint(i), strings.NewReader(`{"a":1}`))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != fmt.Sprint(i) {
			t.Fatalf("request %d: %q", i, body)
		}
	}
}
