package devserver

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// webUI is the Temporal Web UI served in-process from the assets embedded in ui-server.
type webUI struct {
	server *uiserver.Server
	done   chan error // Start returned
}

type uiOptions struct {
	bindIP, dialIP          string
	port                    int
	frontendAddr, namespace string
	writeActions            bool
	tls                     *TLS
}

// uiConfig is the UI server's configuration. Without write actions every switch the UI
// server has is off: the UI hides the buttons, and the UI server itself answers 405 to any
// API call but a GET or a query, so a page that only talks to the port changes nothing.
func uiConfig(o uiOptions) *uiconfig.Config {
	ro := !o.writeActions
	c := &uiconfig.Config{
		Host:                o.bindIP,
		Port:                o.port,
		TemporalGRPCAddress: o.frontendAddr,
		DefaultNamespace:    o.namespace,
		EnableUI:            true,
		// Plain http on a local port: a Secure cookie would never come back.
		CORS:               uiconfig.CORS{CookieInsecure: true},
		HideLogs:           true,
		DisableNewsFetch:   true,
		NotifyOnNewVersion: false,

		DisableWriteActions:       ro,
		WorkflowTerminateDisabled: ro,
		WorkflowCancelDisabled:    ro,
		WorkflowSignalDisabled:    ro,
		WorkflowUpdateDisabled:    ro,
		WorkflowResetDisabled:     ro,
		WorkflowPauseDisabled:     ro,
		BatchActionsDisabled:      ro,
		StartWorkflowDisabled:     ro,
		ActivityCommandsDisabled:  ro,
	}
	if t := o.tls; t != nil {
		c.TLS = uiconfig.TLS{CaFile: t.CAFile, ServerName: t.ServerName, EnableHostVerification: true}
		if t.mutual() {
			c.TLS.CertFile, c.TLS.KeyFile = t.ClientCertFile, t.ClientKeyFile
		}
	}
	return c
}

// startWebUI serves the UI on bindIP:port against the frontend and returns once the port
// accepts connections.
//
// ui-server's Start binds the port itself and exits the process when that fails, so the
// caller checks the port is free just before (uiPortNow).
func startWebUI(ctx context.Context, o uiOptions) (*webUI, error) {
	ui := &webUI{
		server: uiserver.NewServer(uioptions.WithConfigProvider(uiConfig(o))),
		done:   make(chan error, 1),
	}
	go func() { ui.done <- ui.server.Start() }()

	addr := net.JoinHostPort(o.dialIP, strconv.Itoa(o.port))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = conn.Close()
			return ui, nil
		}
		select {
		case err := <-ui.done:
			return nil, fmt.Errorf("the Web UI on %s stopped at start: %v", addr, err)
		case <-ctx.Done():
			ui.stop()
			return nil, fmt.Errorf("the Web UI did not listen on %s: %w", addr, ctx.Err())
		case <-tick.C:
		}
	}
}

// stop closes the listener and every connection, then waits for Start to return.
func (ui *webUI) stop() {
	ui.server.Stop()
	select {
	case <-ui.done:
	case <-time.After(5 * time.Second):
	}
}
