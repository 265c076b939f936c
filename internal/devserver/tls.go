package devserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"go.temporal.io/server/common/config"
)

// TLS serves the frontend over TLS, and with ClientCAFile over mutual TLS. Every file is
// PEM. quench dev does not offer it (it listens on loopback); it is here so the TLS path
// of `quench worker` and `quench server` (the SDK's TEMPORAL_TLS* environment) is tested
// against a real server.
type TLS struct {
	// CertFile and KeyFile are the frontend's certificate and key.
	CertFile, KeyFile string
	// ClientCAFile makes it mutual TLS: a client must present a certificate this CA signed.
	ClientCAFile string

	// The server's own clients (its system worker, the namespace set-up and the Web UI)
	// trust CAFile (the CA that signed CertFile), expect ServerName in the certificate and,
	// under mutual TLS, present ClientCertFile and ClientKeyFile.
	CAFile, ServerName            string
	ClientCertFile, ClientKeyFile string
}

func (t *TLS) mutual() bool { return t != nil && t.ClientCAFile != "" }

// check loads every file once, so a wrong path or a bad PEM is an error here rather than a
// failure deep in the server (or an exit in the UI server, which log.Fatals on a bad CA).
func (t *TLS) check() error {
	if t == nil {
		return nil
	}
	if t.CertFile == "" || t.KeyFile == "" || t.CAFile == "" || t.ServerName == "" {
		return errors.New("frontend TLS needs the certificate, its key, the CA that signed it and the server name")
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		return fmt.Errorf("frontend TLS certificate %s: %w", t.CertFile, err)
	}
	if t.mutual() {
		if _, err := certPool(t.ClientCAFile); err != nil {
			return err
		}
		if t.ClientCertFile == "" || t.ClientKeyFile == "" {
			return errors.New("mutual TLS needs a client certificate for the server's own clients (ClientCertFile, ClientKeyFile)")
		}
	}
	_, err := t.clientConfig()
	return err
}

// clientConfig is how the server's own clients dial the frontend; nil without TLS.
func (t *TLS) clientConfig() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	pool, err := certPool(t.CAFile)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{RootCAs: pool, ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.mutual() {
		cert, err := tls.LoadX509KeyPair(t.ClientCertFile, t.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s: %w", t.ClientCertFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA certificate %s holds no PEM certificate", file)
	}
	return pool, nil
}

// apply puts the frontend's TLS into the server's configuration. The other services talk
// among themselves on loopback, as without TLS.
func (t *TLS) apply(cfg *config.Config) {
	if t == nil {
		return
	}
	cfg.Global.TLS.Frontend.Server = config.ServerTLS{CertFile: t.CertFile, KeyFile: t.KeyFile}
	if t.mutual() {
		cfg.Global.TLS.Frontend.Server.ClientCAFiles = []string{t.ClientCAFile}
		cfg.Global.TLS.Frontend.Server.RequireClientAuth = true
	}
	// The system worker (schedules, batch operations) dials the frontend like any client.
	cfg.Global.TLS.SystemWorker = config.WorkerTLS{
		CertFile: t.ClientCertFile, KeyFile: t.ClientKeyFile,
		Client: config.ClientTLS{ServerName: t.ServerName, RootCAFiles: []string{t.CAFile}},
	}
}
