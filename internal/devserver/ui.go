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

// startWebUI serves the UI on bindIP:port against the frontend and returns once the port
// accepts connections.
//
// ui-server's Start binds the port itself and exits the process when that fails, so the
// caller checks the port is free just before (uiPortNow).
func startWebUI(ctx context.Context, bindIP, dialIP string, port int, frontendAddr, namespace string) (*webUI, error) {
	ui := &webUI{
		server: uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
			Host:                bindIP,
			Port:                port,
			TemporalGRPCAddress: frontendAddr,
			DefaultNamespace:    namespace,
			EnableUI:            true,
			// Plain http on a local port: a Secure cookie would never come back.
			CORS:               uiconfig.CORS{CookieInsecure: true},
			HideLogs:           true,
			DisableNewsFetch:   true,
			NotifyOnNewVersion: false,
		})),
		done: make(chan error, 1),
	}
	go func() { ui.done <- ui.server.Start() }()

	addr := net.JoinHostPort(dialIP, strconv.Itoa(port))
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
