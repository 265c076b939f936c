package devserver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/server/common/config"
)

func TestFrontendTLSConfig(t *testing.T) {
	var none *TLS
	cfg := &config.Config{}
	none.apply(cfg)
	assert.Empty(t, cfg.Global.TLS.Frontend.Server.CertFile, "the default stays plain")
	require.NoError(t, none.check())

	oneWay := &TLS{CertFile: "s.pem", KeyFile: "s-key.pem", CAFile: "ca.pem", ServerName: "temporal.test"}
	cfg = &config.Config{}
	oneWay.apply(cfg)
	assert.Equal(t, "s.pem", cfg.Global.TLS.Frontend.Server.CertFile)
	assert.False(t, cfg.Global.TLS.Frontend.Server.RequireClientAuth)
	assert.Equal(t, config.ClientTLS{ServerName: "temporal.test", RootCAFiles: []string{"ca.pem"}}, cfg.Global.TLS.SystemWorker.Client)

	mutual := *oneWay
	mutual.ClientCAFile, mutual.ClientCertFile, mutual.ClientKeyFile = "clients-ca.pem", "c.pem", "c-key.pem"
	cfg = &config.Config{}
	mutual.apply(cfg)
	assert.True(t, cfg.Global.TLS.Frontend.Server.RequireClientAuth)
	assert.Equal(t, []string{"clients-ca.pem"}, cfg.Global.TLS.Frontend.Server.ClientCAFiles)
	assert.Equal(t, "c.pem", cfg.Global.TLS.SystemWorker.CertFile, "the system worker presents the client certificate")
}

func TestFrontendTLSProblemsAreErrors(t *testing.T) {
	require.ErrorContains(t, (&TLS{CertFile: "s.pem"}).check(), "needs the certificate, its key, the CA that signed it and the server name")
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	_, err := (&TLS{CAFile: notPEM}).clientConfig()
	require.ErrorContains(t, err, "holds no PEM certificate")
	_, err = (&TLS{CAFile: filepath.Join(dir, "missing.pem")}).clientConfig()
	require.ErrorContains(t, err, "CA certificate")
	err = (&TLS{CertFile: notPEM, KeyFile: notPEM, CAFile: notPEM, ServerName: "x"}).check()
	require.ErrorContains(t, err, "frontend TLS certificate "+notPEM)
}
