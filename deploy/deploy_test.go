package deploy_test

import (
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/cli"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
)

// quenchContainers are every container of both formats that runs the quench image.
func quenchContainers(t *testing.T) []container {
	var out []container
	for _, c := range append(k8sContainers(t), composeContainers(t)...) {
		if isQuench(c.Image) {
			out = append(out, c)
		}
	}
	if len(out) < 6 { // setup, worker and server in each format
		t.Fatalf("found %d quench containers, want setup, worker and server in k8s and compose", len(out))
	}
	return out
}

// command finds the cobra command a container runs and parses its flags as quench would.
func command(t *testing.T, c container) *cobra.Command {
	t.Helper()
	// The image's quench: the light binary, without quench-embedded beside it, so dev, demo
	// and bench are no commands a container can run.
	root := cli.NewCmdRoot(cmdutil.New(), nil)
	if len(c.Args) == 0 {
		t.Fatalf("%s: no command: the image's entrypoint is /quench and needs a subcommand", c.Where)
	}
	cmd, rest, err := root.Find(c.Args)
	if err != nil || cmd == root {
		t.Fatalf("%s: %q is not a quench command (%v)", c.Where, c.Args[0], err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("%s: quench %s %v: %v", c.Where, cmd.Name(), rest, err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		t.Fatalf("%s: quench %s: %v", c.Where, cmd.Name(), err)
	}
	return cmd
}

func TestQuenchContainersRunRealCommandsAndFlags(t *testing.T) {
	seen := map[string]int{}
	for _, c := range quenchContainers(t) {
		cmd := command(t, c)
		if !slices.Contains([]string{"setup", "worker", "server"}, cmd.Name()) {
			t.Errorf("%s runs quench %s: deploy files run setup, worker and server only", c.Where, cmd.Name())
		}
		seen[cmd.Name()]++
	}
	for _, name := range []string{"setup", "worker", "server"} {
		if seen[name] != 2 {
			t.Errorf("quench %s runs in %d places, want once in k8s and once in compose", name, seen[name])
		}
	}
}

// deployConfig loads quench.yaml as a container would (QUENCH_CONFIG).
func deployConfig(t *testing.T) *config.Config {
	t.Helper()
	t.Setenv("QUENCH_CONFIG", "quench.yaml")
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// listenPort is the port quench server listens on in container c: --http, else http.listen.
func listenPort(t *testing.T, c container, cmd *cobra.Command, cfg *config.Config) int {
	addr := cfg.HTTP.Listen
	if f := cmd.Flags().Lookup("http"); f != nil && f.Changed {
		addr = f.Value.String()
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: listen address %q: %v", c.Where, addr, err)
	}
	n, _ := strconv.Atoi(port)
	if ip := net.ParseIP(strings.Split(addr, ":")[0]); ip != nil && ip.IsLoopback() {
		t.Errorf("%s listens on %s: nothing outside the container can reach it", c.Where, addr)
	}
	return n
}

func TestProbesAndPortsMatchWhatQuenchServes(t *testing.T) {
	cfg := deployConfig(t)
	handler := serverHandler(t, cfg)
	for _, c := range quenchContainers(t) {
		cmd := command(t, c)
		compose := strings.HasPrefix(c.Where, "docker-compose")
		switch cmd.Name() {
		case "server":
			port := listenPort(t, c, cmd, cfg)
			if compose {
				if got := composePorts(t, "quench-server"); !slices.Contains(got, strconv.Itoa(port)) {
					t.Errorf("%s publishes container ports %v, quench listens on %d", c.Where, got, port)
				}
				continue
			}
			if !slices.Contains(c.Ports, port) {
				t.Errorf("%s declares ports %v, quench listens on %d", c.Where, c.Ports, port)
			}
			for kind, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
				p, ok := c.Probes[kind]
				if !ok || p.Kind != "http" || p.Path != path {
					t.Errorf("%s: %s is %+v, want GET %s", c.Where, kind, p, path)
					continue
				}
				if resolvePort(c, p.Port) != port {
					t.Errorf("%s: %s port %v is not the listen port %d", c.Where, kind, p.Port, port)
				}
				// The real handler of quench server, built from this config, serves the path.
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, httptest.NewRequest("GET", "http://10.1.2.3:"+strconv.Itoa(port)+path, nil))
				if rec.Code == http.StatusNotFound || rec.Code == http.StatusForbidden || rec.Code == http.StatusMisdirectedRequest {
					t.Errorf("%s: GET %s by pod IP answers %d", c.Where, path, rec.Code)
				}
				if path == "/readyz" && rec.Code != http.StatusServiceUnavailable {
					t.Errorf("GET /readyz with Temporal unreachable answered %d, want 503", rec.Code)
				}
			}
		default:
			// Worker and setup serve no HTTP: an HTTP probe would fail the pod forever.
			if cmd.Flags().Lookup("http") != nil {
				t.Fatalf("quench %s has --http now: give it probes here", cmd.Name())
			}
			for kind, p := range c.Probes {
				t.Errorf("%s has a %s (%s) but quench %s serves nothing", c.Where, kind, p.Kind, cmd.Name())
			}
		}
	}
	// The Service sends traffic to the named port that quench listens on.
	for _, obj := range k8sObjects(t) {
		if s(obj["kind"]) == "Service" && s(m(obj["metadata"])["name"]) == "quench-server" {
			for _, p := range l(m(obj["spec"])["ports"]) {
				if s(m(p)["targetPort"]) != "http" {
					t.Errorf("Service quench-server targets %v, want the container port named http", m(p)["targetPort"])
				}
			}
		}
	}
}

func resolvePort(c container, port any) int {
	if n, ok := port.(int); ok {
		return n
	}
	// Named ports: only "http" is declared on the server container.
	if port == "http" && len(c.Ports) == 1 {
		return c.Ports[0]
	}
	return -1
}

// serverHandler is quench server's HTTP handler, built as serverRun builds it, from the deploy
// config with the server's secrets set, against a Temporal that is not there.
func serverHandler(t *testing.T, cfg *config.Config) http.Handler {
	t.Helper()
	for _, name := range secretRefs(cfg) {
		t.Setenv(name, fakeSecret)
	}
	cfg.DataDir = t.TempDir()
	if err := app.CheckExposure(cfg); err != nil {
		t.Fatal(err)
	}
	lib, err := app.Runbooks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	adapters, err := app.Resolve(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Namespace: cfg.Temporal.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	web, err := app.HTTPServer(cfg, incidents.New(c, lib, cfg.Temporal.Namespace), adapters, logger)
	if err != nil {
		t.Fatal(err)
	}
	return web.Server.Handler
}

// fakeSecret passes every check a secret gets at start (32 bytes of base64: a signing seed).
var fakeSecret = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

var envRef = regexp.MustCompile(`\benv:([A-Za-z_][A-Za-z0-9_]*)`)

// secretRefs are the env:NAME references of the config file.
func secretRefs(cfg *config.Config) []string {
	data, _ := os.ReadFile(cfg.Path)
	var out []string
	for _, mm := range envRef.FindAllStringSubmatch(string(data), -1) {
		if !slices.Contains(out, mm[1]) {
			out = append(out, mm[1])
		}
	}
	slices.Sort(out)
	return out
}

// recordingEnv records the names the Temporal SDK's envconfig looks up.
type recordingEnv map[string]bool

func (r recordingEnv) Environ() []string { return nil }
func (r recordingEnv) LookupEnv(k string) (string, bool) {
	r[k] = true
	return "", false
}

// namesQuenchReads are the environment variables quench itself reads: the SDK's (recorded
// from envconfig, as cmdutil.ClientOptions loads it) and QUENCH_* found in the Go sources.
func namesQuenchReads(t *testing.T) (exact map[string]bool, prefixes []string) {
	rec := recordingEnv{}
	if _, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{EnvLookup: rec, DisableFile: true}); err != nil {
		t.Fatal(err)
	}
	if !rec["TEMPORAL_ADDRESS"] || !rec["TEMPORAL_TLS_CLIENT_CERT_PATH"] {
		t.Fatalf("envconfig looked up %v: not the SDK environment this test knows", rec)
	}
	quenchVar := regexp.MustCompile(`"(QUENCH_[A-Z0-9_]+)"`)
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != ".." && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir // .git and the like
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		for _, mm := range quenchVar.FindAllSubmatch(data, -1) {
			rec[string(mm[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec, []string{"TEMPORAL_GRPC_META_"}
}

// Every env var of a quench container is one quench reads or quench.yaml references; every
// secret comes from a Secret or .env; and each command gets past what it resolves at start
// (config, adapters, decision keys, HTTP server) with exactly its container's environment.
func TestEnvNamesAgreeWithCodeAndSecretsAreReferences(t *testing.T) {
	cfg := deployConfig(t)
	refs := secretRefs(cfg)
	if len(refs) == 0 {
		t.Fatal("quench.yaml has no env: references: the test would prove nothing")
	}
	reads, prefixes := namesQuenchReads(t)
	for _, c := range quenchContainers(t) {
		cmd := command(t, c)
		for name, value := range c.Env {
			read := reads[name] || slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) })
			ref := slices.Contains(refs, name)
			if !read && !ref {
				t.Errorf("%s sets %s, which quench neither reads nor quench.yaml references", c.Where, name)
			}
			if ref && !c.Secret[name] {
				t.Errorf("%s: %s=%q is a secret written into the file: take it from a Secret (k8s) or ${%s} (compose)", c.Where, name, value, name)
			}
		}
		if c.Env["QUENCH_CONFIG"] == "" || c.Mounts[filepath.Dir(c.Env["QUENCH_CONFIG"])] == "" && c.Mounts[c.Env["QUENCH_CONFIG"]] == "" {
			t.Errorf("%s: QUENCH_CONFIG=%q is not a mounted quench.yaml", c.Where, c.Env["QUENCH_CONFIG"])
		}
		// Start-up with exactly this container's environment.
		for _, name := range refs {
			if c.Secret[name] {
				t.Setenv(name, fakeSecret)
			} else {
				t.Setenv(name, "") // unset, as far as config.Secret is concerned
			}
		}
		t.Setenv("QUENCH_CONFIG", "quench.yaml")
		if err := startChecks(t, cmd.Name()); err != nil {
			t.Errorf("%s: quench %s would not start with this environment: %v", c.Where, cmd.Name(), err)
		}
	}
}

// startChecks runs what a command resolves from the config before it touches Temporal.
func startChecks(t *testing.T, command string) error {
	cfg, err := config.Load("")
	if err != nil || command == "setup" {
		return err
	}
	cfg.DataDir = t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	adapters, err := app.Resolve(cfg, logger)
	if err != nil {
		return err
	}
	d, err := app.ResolveDecisions(cfg, "")
	if err != nil {
		return err
	}
	if command == "worker" {
		if len(d.Keys) == 0 {
			t.Errorf("the worker has no decision key: every approval would be refused")
		}
		return nil
	}
	if d.Signer == nil {
		t.Errorf("the server has no signing key: every approval would be refused")
	}
	lib, err := app.Runbooks(cfg)
	if err != nil {
		return err
	}
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = app.HTTPServer(cfg, incidents.New(c, lib, cfg.Temporal.Namespace), adapters, logger)
	return err
}
