package automation

import (
	"net"
	"net/url"
	"strings"
)

// Deliverable returns the actions posture can deliver, in order: LogicApp
// actions with an https uri and EventHub actions whose connection string
// gives an https endpoint (plain http only to a loopback host, for tests).
// posture POSTs the event to Endpoint. Workspace actions and Event Hubs
// connection strings (sb://, AMQP) are never deliverable: they are stored,
// and Validate says they do nothing.
func (a *Automation) Deliverable() []Action {
	var out []Action
	for _, ac := range a.Actions {
		if _, ok := ac.Endpoint(); ok {
			out = append(out, ac)
		}
	}
	return out
}

// Endpoint returns the URL posture POSTs events to for the action, and
// whether it can deliver the action at all. For a LogicApp action it is the
// uri; for an EventHub action the Endpoint of the connection string
// ("Endpoint=https://host/path;…", other keys ignored) or the connection
// string itself when it is a plain URL.
func (ac Action) Endpoint() (string, bool) {
	var target string
	switch ac.ActionType {
	case LogicApp:
		target = ac.URI
	case EventHub:
		target = eventHubEndpoint(ac.ConnectionString)
	default:
		return "", false
	}
	if !deliverableURL(target) {
		return "", false
	}
	return target, true
}

// deliverableURL reports whether posture may POST to s: an absolute https
// URL with a host, or http to a loopback host (localhost, 127.0.0.0/8, ::1).
func deliverableURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return true
	case "http":
		return isLoopback(u.Hostname())
	}
	return false
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// connectionString splits an Event Hubs style connection string
// ("Key=Value;Key=Value") into its pairs; keys are matched ignoring case,
// values keep everything after the first '=' (shared access keys are
// base64 and end in '='). ok is false when s has no Endpoint key, that is,
// when s is not a connection string.
func connectionString(s string) (pairs map[string]string, ok bool) {
	pairs = map[string]string{}
	for part := range strings.SplitSeq(s, ";") {
		k, v, found := strings.Cut(part, "=")
		if !found {
			continue
		}
		pairs[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	_, ok = pairs["endpoint"]
	return pairs, ok
}

// eventHubEndpoint is the URL an EventHub action's connection string names.
func eventHubEndpoint(cs string) string {
	if pairs, ok := connectionString(cs); ok {
		return pairs["endpoint"]
	}
	return strings.TrimSpace(cs)
}

// sasPolicyName is the SharedAccessKeyName of a connection string, which
// posture reports as the read-only sasPolicyName; "" when there is none.
func sasPolicyName(cs string) string {
	if pairs, ok := connectionString(cs); ok {
		return pairs["sharedaccesskeyname"]
	}
	return ""
}
