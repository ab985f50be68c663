package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/audit"
	"github.com/posture/posture/auth"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/defender"
	"github.com/posture/posture/demo"
	"github.com/posture/posture/dispatch"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/graph"
	"github.com/posture/posture/identity"
	"github.com/posture/posture/oidc"
	"github.com/posture/posture/policy"
	"github.com/posture/posture/telemetry"
	"github.com/posture/posture/web"
)

// ServeCmd runs the server.
type ServeCmd struct {
	Addr string `default:"127.0.0.1:8080" help:"Address to listen on." env:"POSTURE_ADDR"`
	// AdvertiseURL: see replication.advertiseURL.
	AdvertiseURL string `name:"advertise-url" help:"With --database-url: the URL the other replicas reach this one at; they forward ARM writes to the leader's (default: http://{addr} when --addr names an address, not 0.0.0.0 or ::; none: this replica neither forwards writes nor takes others')." env:"POSTURE_ADVERTISE_URL"`
	StoreFlags
	Demo     bool   `help:"Load the demo estate when the store is empty." env:"POSTURE_DEMO"`
	Policies string `help:"Also load every policy definition and initiative under this checkout of the Azure/azure-policy repository layout." env:"POSTURE_POLICIES" type:"existingdir"`
	// DefaultAssignment mirrors Defender for Cloud, which assigns the
	// benchmark to every subscription.
	DefaultAssignment bool          `default:"true" negatable:"" help:"Assign the Microsoft cloud security benchmark as SecurityCenterBuiltIn to every subscription." env:"POSTURE_DEFAULT_ASSIGNMENT"`
	LogLevel          string        `default:"info" enum:"debug,info,warn,error" help:"Log level (debug, info, warn, error)." env:"POSTURE_LOG_LEVEL"`
	QueryTimeout      time.Duration `default:"30s" help:"Longest a Resource Graph query may run." env:"POSTURE_QUERY_TIMEOUT"`
	// MitigatedAsHealthy: Defender shows exempted resources NotApplicable;
	// a Mitigated exemption says the risk is handled another way.
	MitigatedAsHealthy bool   `help:"Count resources under a Mitigated exemption as healthy in secure scores (default: left out, as NotApplicable)." env:"POSTURE_MITIGATED_AS_HEALTHY"`
	ExemptionRules     string `help:"JSON file of exemption governance rules (requiredMetadata, maxDays, waiverRequiresExpiry); default: Waivers expire within 90/180/365 days by severity." env:"POSTURE_EXEMPTION_RULES" type:"existingfile"`
	ReviewFlags
	LedgerFlags
	OIDCFlags
	WorkflowFlags
	TelemetryFlags
	LimitFlags
}

// OIDCFlags configure sign-in with an OpenID Connect issuer.
type OIDCFlags struct {
	OIDCIssuer       string   `name:"oidc-issuer" help:"OpenID Connect issuer whose JWTs are accepted as bearer tokens (e.g. https://login.microsoftonline.com/{tenant}/v2.0); empty: API tokens only." env:"POSTURE_OIDC_ISSUER"`
	OIDCAudience     []string `name:"oidc-audience" help:"Accepted 'aud' values of bearer JWTs (default: the client id)." env:"POSTURE_OIDC_AUDIENCE"`
	OIDCClientID     string   `name:"oidc-client-id" help:"Client id of posture's portal at the issuer." env:"POSTURE_OIDC_CLIENT_ID"`
	OIDCClientSecret string   `name:"oidc-client-secret" help:"Client secret, for a confidential client (PKCE is always used)." env:"POSTURE_OIDC_CLIENT_SECRET"`
	OIDCGroupsClaim  string   `name:"oidc-groups-claim" default:"groups" help:"Claim with the user's group ids." env:"POSTURE_OIDC_GROUPS_CLAIM"`
	PublicURL        string   `name:"public-url" help:"URL users reach posture at (e.g. https://posture.example); the sign-in callback is {public-url}/auth/callback." env:"POSTURE_PUBLIC_URL"`
	SessionKey       string   `name:"session-key" help:"Base64 32-byte key sealing the sign-in cookie; replicas share it (default: random per start)." env:"POSTURE_SESSION_KEY"`
	OIDCCAFile       string   `name:"oidc-ca-file" help:"PEM file of the CA certificates that sign the issuer's TLS certificate (a private CA); default: the system's." env:"POSTURE_OIDC_CA_FILE" type:"existingfile"`
}

// provider returns the OIDC provider, nil when no issuer is configured.
func (f *OIDCFlags) provider(ctx context.Context) (*oidc.Provider, error) {
	if f.OIDCIssuer == "" {
		return nil, nil
	}
	cfg := oidc.Config{Issuer: f.OIDCIssuer, Audience: f.OIDCAudience, ClientID: f.OIDCClientID, ClientSecret: f.OIDCClientSecret,
		GroupsClaim: f.OIDCGroupsClaim}
	if f.OIDCCAFile != "" {
		pem, err := os.ReadFile(f.OIDCCAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageError{fmt.Errorf("--oidc-ca-file %s holds no PEM certificate", f.OIDCCAFile)}
		}
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	if f.PublicURL != "" {
		if f.OIDCClientID == "" {
			return nil, usageError{fmt.Errorf("--public-url enables the portal sign-in, which needs --oidc-client-id")}
		}
		cfg.RedirectURL = strings.TrimSuffix(f.PublicURL, "/") + "/auth/callback"
		key, err := f.sessionKey()
		if err != nil {
			return nil, err
		}
		cfg.CookieKey = key
	}
	p, err := oidc.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("OpenID Connect issuer %s: %w", f.OIDCIssuer, err)
	}
	return p, nil
}

// unsharedKeys names the keys that replicas must share and this one made
// for itself (random, or a file in its own data directory): on PostgreSQL,
// sign-ins, one-click links or ledger checkpoints of this replica are then
// not accepted by the others.
func (c *ServeCmd) unsharedKeys() []string {
	var out []string
	if c.SessionKey == "" {
		out = append(out, "POSTURE_SESSION_KEY (--session-key): random at each start")
	}
	if c.LinkKey == "" {
		out = append(out, "POSTURE_LINK_KEY (--link-key): link.key in the data directory")
	}
	if os.Getenv("POSTURE_LEDGER_KEY") == "" && c.LedgerKeyFile == "" {
		out = append(out, "POSTURE_LEDGER_KEY: ledger.key in the data directory")
	}
	return out
}

// sessionKey is --session-key, or a random key when it is not set (then
// cookies and form tokens do not survive a restart or reach a replica).
func (f *OIDCFlags) sessionKey() ([]byte, error) {
	key := make([]byte, 32)
	if f.SessionKey == "" {
		rand.Read(key)
		return key, nil
	}
	k, err := base64.StdEncoding.DecodeString(f.SessionKey)
	if err != nil || len(k) != 32 {
		return nil, usageError{fmt.Errorf("--session-key must be 32 bytes in base64")}
	}
	return k, nil
}

// LedgerFlags configure the audit ledger.
type LedgerFlags struct {
	LedgerKeyFile   string        `help:"File with the ed25519 key that signs ledger checkpoints (created when missing); default: ledger.key in the data directory. POSTURE_LEDGER_KEY (a base64 seed) takes precedence." env:"POSTURE_LEDGER_KEY_FILE"`
	CheckpointEvery int           `default:"100" help:"Sign a ledger checkpoint every N entries." env:"POSTURE_CHECKPOINT_EVERY"`
	AuditRetention  time.Duration `default:"0s" help:"Delete ledger entries older than this (e.g. 8760h); 0 keeps them forever." env:"POSTURE_AUDIT_RETENTION"`
}

// BootstrapTokenFile is the file in the data directory that holds the
// bootstrap token created with a new store.
const BootstrapTokenFile = "bootstrap-token"

// Run runs the server until ctx is done (SIGINT or SIGTERM).
func (c *ServeCmd) Run(ctx context.Context, streams *IO) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return usageError{err}
	}
	log := slog.New(slog.NewJSONHandler(streams.Err, &slog.HandlerOptions{Level: level}))
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return usageError{fmt.Errorf("--addr %q: %v (expected host:port, e.g. 127.0.0.1:8080)", c.Addr, err)}
	}

	store, cluster, err := c.openCluster(ctx, time.Now)
	if err != nil {
		return fmt.Errorf("opening the store (%s): %w", c.describe(), err)
	}
	defer store.Close()
	if cluster != nil {
		defer cluster.Close()
	}
	signer, err := c.ledgerSigner(c.Data)
	if err != nil {
		return err
	}
	store.SetLedgerSigner(signer, c.CheckpointEvery)
	if cluster != nil {
		for _, k := range c.unsharedKeys() {
			log.Warn("a key that replicas must share is this replica's own: give every replica the same one", "key", k)
		}
	}
	// The services use obs.store: the store, timed and traced (telemetry.go).
	obs, err := c.startTelemetry(ctx, store, log)
	if err != nil {
		return err
	}
	defer obs.close()
	if obs.tel.Tracing() {
		store.SetTraceParent(telemetry.TraceParent) // jobs go on with the trace that enqueued them
	}
	registry, err := policy.NewBuiltinRegistry()
	if err != nil {
		return fmt.Errorf("loading the built-in policies: %w", err)
	}
	if c.Policies != "" {
		if err := registry.LoadDir(c.Policies); err != nil {
			return fmt.Errorf("loading --policies %s: %w", c.Policies, err)
		}
	}
	// Replicas on one PostgreSQL database share a write lock and follow
	// each other's changes; alone (SQLite) the lock is a mutex.
	repl := newReplication(store, cluster, log)
	writeMu := repl.gate
	tables := &graph.Service{Store: obs.store, Registry: registry, Now: time.Now, Logger: log, Timeout: c.QueryTimeout}
	catalog, err := defender.NewCatalog(registry)
	if err != nil {
		return err
	}
	security := &defender.Service{Store: obs.store, Catalog: catalog, Now: time.Now, Logger: log, MitigatedAsHealthy: c.MitigatedAsHealthy}
	rules, err := c.exemptionRules()
	if err != nil {
		return err
	}
	// Defender's view derives assessments and scores from each change
	// before the Resource Graph tables take it.
	autos := &dispatch.Service{Store: obs.store, Logger: log}
	feeds := gatedFeed{repl.gate, posture.Feeds{security, autos, tables}}
	policies := &compliance.Service{Store: obs.store, Registry: registry, Now: time.Now, Logger: log, WriteMu: writeMu, DefaultAssignment: c.DefaultAssignment, Feed: feeds}
	policies.Rules = rules
	// Large scopes are evaluated by queued jobs that any replica takes.
	policies.EvalJobs.Queue = true
	policies.ReviewGrace, policies.FilterWarnShare = c.ReviewGrace, c.FilterWarnShare
	policies.Severity = func(assignment string, refs []string) string {
		if !strings.EqualFold(policies.InitiativeOf(assignment), catalog.SetID) {
			return ""
		}
		return catalog.MaxSeverity(refs)
	}
	tables.Definitions = policies.DefinitionOf
	security.Initiative = policies.InitiativeOf
	tables.Derived = security.EachDerived
	obs.hook(policies, tables) // before anything evaluates or queries
	resources := &estate.Service{Store: obs.store, Now: time.Now, Observer: policies, WriteMu: writeMu, Feed: feeds}
	security.Resources = resources
	autos.Resources = resources
	// What another replica committed reaches this one's views here: the
	// compliance indexes, then Defender and the Resource Graph (not the
	// automations' events: the writer queued those).
	var ids *identity.Service
	var authn *auth.Service
	var wakeQueue func()
	err = repl.start(ctx, func(ctx context.Context, k *posture.ChangeKeys) (func(), error) {
		ch, err := policies.Follow(ctx, k)
		if err != nil {
			return nil, err
		}
		if automationsChanged(ch, k) {
			if err := autos.Reload(ctx); err != nil {
				return nil, err
			}
		}
		if k.Identity && ids != nil {
			if err := ids.Reload(ctx); err != nil {
				return nil, err
			}
		}
		if k.Identity && authn != nil {
			authn.ForgetTokens() // a token revoked or a principal deleted elsewhere
		}
		if k.Jobs && wakeQueue != nil {
			wakeQueue()
		}
		// Views no write reads: published once the cluster-wide lock is
		// released (replica.Gate).
		return func() { posture.Feeds{security, tables}.Publish(ch) }, nil
	})
	if err != nil {
		return err
	}
	wantTenant := ""
	if c.Demo {
		wantTenant = demo.TenantID
	}
	tenant, err := resources.EnsureTenant(ctx, wantTenant)
	if err != nil {
		return fmt.Errorf("initialising the tenant: %w", err)
	}
	if err := policies.Start(ctx); err != nil {
		return fmt.Errorf("starting policy evaluation: %w", err)
	}
	ids, err = identity.Load(ctx, obs.store, policies, time.Now)
	if err != nil {
		return fmt.Errorf("loading roles and role assignments: %w", err)
	}
	for _, err := range ids.Authz.Ignored() {
		log.Warn("a role or role assignment grants nothing", "err", err)
	}
	policies.HierarchyChanged = ids.Authz.InvalidateHierarchy
	login, err := c.provider(ctx)
	if err != nil {
		return err
	}
	authn = &auth.Service{Store: obs.store, Now: time.Now, OIDC: login, Directory: ids}
	token, err := authn.Bootstrap(ctx, os.Getenv("POSTURE_BOOTSTRAP_TOKEN"))
	if err != nil {
		return fmt.Errorf("creating the bootstrap principal: %w", err)
	}
	if token != "" {
		if err := ids.Reload(ctx); err != nil { // the bootstrap Owner
			return err
		}
	}
	tokenFile := filepath.Join(c.Data, BootstrapTokenFile)
	if token != "" {
		if err := os.MkdirAll(c.Data, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
			return fmt.Errorf("writing the bootstrap token: %w", err)
		}
	}
	if c.Demo && tenant != demo.TenantID {
		log.Warn("not loading the demo estate: this store belongs to another tenant; start with an empty --data directory", "tenant", tenant)
	} else if c.Demo {
		n, err := loadDemo(ctx, resources)
		if err != nil {
			return fmt.Errorf("loading the demo estate: %w", err)
		}
		if n > 0 {
			log.Info("demo estate loaded", "documents", n)
		}
	}

	tables.TenantID = tenant
	if err := security.Start(ctx); err != nil {
		return fmt.Errorf("starting the secure score: %w", err)
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.Addr, err)
	}
	url := "http://" + ln.Addr().String()
	if repl.advertise, err = advertiseURL(c.AdvertiseURL, ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	if repl.cluster != nil && repl.advertise == "" {
		log.Info("this replica neither forwards writes to the leader nor takes the others': --advertise-url is none, or --addr names no address others can reach")
	}
	publicURL := url
	if c.PublicURL != "" {
		publicURL = strings.TrimSuffix(c.PublicURL, "/")
	}
	flow, err := c.WorkflowFlags.build(obs.store, policies, ids.Authz, catalog, feeds, autos, c.Data, publicURL, log)
	if err != nil {
		ln.Close()
		return err
	}
	wakeQueue = flow.queue.Notify
	for kind, h := range policies.Handlers() {
		flow.queue.Handlers[kind] = h
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(telemetry.Tables{Stats: tables.Stats})
	if err := obs.register(reg, c.CheckpointEvery, flow.queue); err != nil {
		ln.Close()
		return err
	}
	srv := &api.Server{
		Resources:   resources,
		Policy:      policies,
		Graph:       tables,
		Security:    security,
		Exemptions:  policies,
		Auth:        authn,
		Authz:       ids.Authz,
		Identity:    ids,
		Tokens:      authn,
		Login:       portalLogin(login, c.PublicURL),
		Requests:    flow.requests,
		Automations: autos,
		Jobs:        jobsOf(obs.store),
		RetryJob:    flow.queue.Retry,
		Audit: func(ctx context.Context, e *posture.Event) error {
			return obs.store.Write(ctx, func(tx posture.Tx) error { return tx.AppendEvent(e) })
		},
		Ledger:   &audit.Service{Store: obs.store, TenantID: tenant, Keys: []ed25519.PublicKey{signer.PublicKey()}},
		Logger:   log,
		Registry: reg,
		Gatherer: reg,
		Now:      time.Now,
		Forward:  repl.forward(),
	}
	srv.ReadyChecks = append(readyChecks(store, tables, log), repl.readyCheck()...)
	csrfKey, err := c.sessionKey()
	if err != nil {
		ln.Close()
		return err
	}
	handler := srv.Handler()
	portal := &web.Portal{API: handler, Sessions: authn, Authz: ids.Authz, OIDC: srv.Login != nil,
		Recommendation: recommendationOf(catalog), Catalog: catalog, ScoreHistory: security.ScoreHistory, CSRFKey: csrfKey, Logger: log, Now: time.Now}
	if err := portal.Init(); err != nil {
		ln.Close()
		return err
	}
	srv.Portal = portal
	hs := &http.Server{
		Handler:           obs.handler(handler),
		ReadHeaderTimeout: 10 * time.Second, // slow clients cannot hold connections open
		ReadTimeout:       5 * time.Minute,  // imports stream large bodies
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if err := c.LimitFlags.apply(srv, hs); err != nil {
		ln.Close()
		return err
	}
	security.PortalURL = publicURL
	fmt.Fprintf(streams.Out, "posture is listening on %s (tenant %s, store: %s)\n", url, tenant, c.describe())
	if token != "" {
		fmt.Fprintf(streams.Out, "bootstrap token (shown once, also saved to %s):\n  %s\n", tokenFile, token)
	} else if _, err := os.Stat(tokenFile); err == nil {
		fmt.Fprintf(streams.Out, "bootstrap token: in %s\n", tokenFile)
	}
	fmt.Fprintf(streams.Out, "try: curl -H \"Authorization: Bearer $(cat %s)\" '%s/subscriptions?api-version=2022-12-01'\n", tokenFile, url)
	fmt.Fprintf(streams.Out, "portal: %s/ (sign in with the token)\n", publicURL)
	log.Info("listening", "url", url, "tenant", tenant, "store", c.describe())
	errc := make(chan error, 2)
	// On every replica: following the others, expiries (recorded once:
	// they take the write lock and catch up first), the queue (claims are
	// exclusive), the automation events of this replica's own writes.
	go repl.run(ctx)
	go policies.RunExpiry(ctx)
	go autos.Run(ctx)
	// On the leader alone: the jobs that must run once.
	go repl.lead(ctx, func(ctx context.Context) {
		go saveScoreHistory(ctx, security, log)
		go c.runEvidence(ctx, policies, tables, log)
		go flow.runTimers(ctx, log)
		if c.AuditRetention > 0 {
			go pruneLedger(ctx, store, c.AuditRetention, log)
		}
		repl.pruneChanges(ctx)
		<-ctx.Done()
	})
	defer func() {
		if err := security.SaveHistory(context.WithoutCancel(ctx)); err != nil {
			log.Error("saving the secure score history", "err", err)
		}
	}()
	go func() { errc <- hs.Serve(api.RepairRequestLines(ln)) }()
	go func() {
		start := time.Now()
		if err := tables.Start(ctx); err != nil {
			if ctx.Err() == nil {
				errc <- fmt.Errorf("loading the Resource Graph tables: %w", err)
			}
			return
		}
		log.Info("ready: resource graph tables loaded", "duration_ms", time.Since(start).Milliseconds())
		// The queue starts once the tables are loaded: the changes of the
		// jobs that evaluate large scopes would otherwise wait in memory
		// until then (after an import of 1M resources, most of the states
		// and assessments).
		go flow.runQueue(ctx, log)
		if streams.Ready != nil {
			streams.Ready(url)
		}
	}()

	select {
	case err := <-errc:
		hs.Close()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loadDemo imports the demo estate when the store holds no subscription
// yet, and returns the number of documents loaded.
func loadDemo(ctx context.Context, svc *estate.Service) (int, error) {
	page, err := svc.ListResources(ctx, posture.ResourceFilter{Under: "/subscriptions", Limit: 1})
	if err != nil || len(page.Resources) > 0 {
		return 0, err
	}
	var batch []*posture.Resource
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := svc.ImportResources(ctx, batch)
		n += len(batch)
		batch = batch[:0]
		return err
	}
	err = demo.Demo().Each(func(raw []byte) error {
		r, err := armdoc.Normalize(raw)
		if err != nil {
			return fmt.Errorf("demo document %s: %w", strings.SplitN(string(raw), ",", 2)[0], err)
		}
		batch = append(batch, r)
		if len(batch) == 1000 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, flush()
}

// saveScoreHistory saves the secure score history every few seconds.
func saveScoreHistory(ctx context.Context, s *defender.Service, log *slog.Logger) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.SaveHistory(ctx); err != nil && ctx.Err() == nil {
				log.Error("saving the secure score history", "err", err)
			}
		}
	}
}

// exemptionRules reads --exemption-rules, or returns the defaults.
func (c *ServeCmd) exemptionRules() (exemption.Rules, error) {
	if c.ExemptionRules == "" {
		return exemption.DefaultRules(), nil
	}
	b, err := os.ReadFile(c.ExemptionRules)
	if err != nil {
		return exemption.Rules{}, err
	}
	rules, err := exemption.LoadRules(b)
	if err != nil {
		return exemption.Rules{}, usageError{fmt.Errorf("--exemption-rules %s: %w", c.ExemptionRules, err)}
	}
	return rules, nil
}

// portalLogin is the provider for the portal sign-in, which needs a public
// URL to come back to; nil without one.
func portalLogin(p *oidc.Provider, publicURL string) *oidc.Provider {
	if publicURL == "" {
		return nil
	}
	return p
}
