package serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/devserver"
)

// testPKI is a throwaway CA with a server and a client certificate, and a second CA (an
// attacker's) with its own client certificate, as PEM files.
type testPKI struct {
	dir                          string
	ca, serverCert, serverKey    string
	clientCert, clientKey        string
	rogueCA, rogueCert, rogueKey string
	serverName                   string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	p := testPKI{dir: t.TempDir(), serverName: "temporal.quench.test"}
	caCert, caKey := p.issue(t, "ca", nil, nil, func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid = true, true
		c.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	})
	p.ca = filepath.Join(p.dir, "ca.pem")
	p.serverCert, p.serverKey = p.files("server")
	p.issue(t, "server", caCert, caKey, func(c *x509.Certificate) {
		c.DNSNames = []string{p.serverName}
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	client := func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }
	p.clientCert, p.clientKey = p.files("worker")
	p.issue(t, "worker", caCert, caKey, client)

	rogueCert, rogueKey := p.issue(t, "rogue-ca", nil, nil, func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid = true, true
		c.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	})
	p.rogueCA = filepath.Join(p.dir, "rogue-ca.pem")
	p.rogueCert, p.rogueKey = p.files("rogue")
	p.issue(t, "rogue", rogueCert, rogueKey, client)
	return p
}

func (p testPKI) files(name string) (cert, key string) {
	return filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem")
}

// issue makes a key and a certificate for name, signed by parent (self-signed without
// one), and writes both as PEM.
func (p testPKI) issue(t *testing.T, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, shape func(*x509.Certificate)) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	shape(tmpl)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile := p.files(name)
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return cert, key
}

// setClientEnv configures the Temporal client only through the SDK's environment, as an
// operator would for quench worker and quench server. The others are unset: envconfig
// turns TLS on for a TEMPORAL_TLS_* variable that is set, even empty.
func setClientEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, name := range []string{
		"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS",
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_NAME",
		"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH",
	} {
		t.Setenv(name, env[name]) // restored after the test
		if _, ok := env[name]; !ok {
			require.NoError(t, os.Unsetenv(name))
		}
	}
}

func echoWorkflow(_ workflow.Context, s string) (string, error) { return "over mTLS: " + s, nil }

// quench worker and quench server reach a frontend that requires client certificates when
// (and only when) the SDK environment gives them the CA, the server name and a client
// certificate from that CA: a plain connection, TLS without a client certificate and a
// certificate from another CA are all refused.
func TestWorkerAndServerConnectOverMutualTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pki := newTestPKI(t)
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir: t.TempDir(), FrontendPort: 0, UIPort: 0, Logger: quietLogger(),
		TLS: &devserver.TLS{
			CertFile: pki.serverCert, KeyFile: pki.serverKey, ClientCAFile: pki.ca,
			CAFile: pki.ca, ServerName: pki.serverName, ClientCertFile: pki.clientCert, ClientKeyFile: pki.clientKey,
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })

	// No config file from the machine running the test.
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	cfg := &config.Config{}
	cfg.Temporal.Address = "127.0.0.1:1" // the environment must win over the config
	cfg.Temporal.Namespace = "not-this-one"
	io, _, _, _ := cmdutil.Test()
	never := func() bool { return false }
	dial := func() (client.Client, string, error) {
		return dialRemote(&RemoteOptions{IO: io, AddressFlag: never, NamespaceFlag: never, LogLevel: "error"}, cfg)
	}
	base := map[string]string{
		"TEMPORAL_ADDRESS": srv.FrontendAddress(), "TEMPORAL_NAMESPACE": srv.Namespace(),
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.ca, "TEMPORAL_TLS_SERVER_NAME": pki.serverName,
	}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}

	withCert := func(extra map[string]string) map[string]string {
		extra["TEMPORAL_TLS_CLIENT_CERT_PATH"], extra["TEMPORAL_TLS_CLIENT_KEY_PATH"] = pki.clientCert, pki.clientKey
		return with(extra)
	}
	serverRefusedCert := []string{"certificate required", "bad certificate", "unknown certificate authority", "broken pipe", "connection reset"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		// because lists the errors a client may see for the case, any one will do ("" where
		// the server just hangs up). A refused client certificate is the server's verdict:
		// under TLS 1.3 the client may first see the server hang up on its next write.
		because []string
	}{
		{"plain (no TLS)", map[string]string{"TEMPORAL_ADDRESS": srv.FrontendAddress(), "TEMPORAL_NAMESPACE": srv.Namespace()}, []string{""}},
		{"TLS without a client certificate", base, serverRefusedCert},
		{"a client certificate from another CA", with(map[string]string{
			"TEMPORAL_TLS_CLIENT_CERT_PATH": pki.rogueCert, "TEMPORAL_TLS_CLIENT_KEY_PATH": pki.rogueKey}), serverRefusedCert},
		{"a server CA that did not sign the frontend", withCert(map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": pki.rogueCA}), []string{"certificate signed by unknown authority"}},
		{"another server name", withCert(map[string]string{"TEMPORAL_TLS_SERVER_NAME": "temporal.elsewhere.test"}), []string{"not temporal.elsewhere.test"}},
	} {
		setClientEnv(t, tc.env)
		c, _, err := dial()
		if err == nil {
			c.Close()
		}
		require.Error(t, err, "%s was let in", tc.name)
		assert.Contains(t, err.Error(), "cannot reach Temporal at "+srv.FrontendAddress(), tc.name)
		if !slices.ContainsFunc(tc.because, func(want string) bool { return strings.Contains(err.Error(), want) }) {
			t.Errorf("%s: %v; want an error saying one of %q", tc.name, err, tc.because)
		}
	}

	setClientEnv(t, with(map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": pki.clientCert, "TEMPORAL_TLS_CLIENT_KEY_PATH": pki.clientKey}))
	c, namespace, err := dial()
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, srv.Namespace(), namespace)
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	require.NoError(t, err)

	w := worker.New(c, "tls-test", worker.Options{})
	w.RegisterWorkflowWithOptions(echoWorkflow, workflow.RegisterOptions{Name: "echo"})
	require.NoError(t, w.Start())
	defer w.Stop()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "tls-echo", TaskQueue: "tls-test"}, "echo", "hello")
	require.NoError(t, err)
	var got string
	require.NoError(t, run.Get(ctx, &got))
	assert.Equal(t, "over mTLS: hello", got)

	// The Web UI reaches the frontend with the server's own client certificate.
	resp, err := http.Get(srv.UIURL() + "/api/v1/namespaces/" + namespace)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
