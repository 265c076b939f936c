package devserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// PortInUseError says a port quench dev needs is taken, and which flag moves it.
type PortInUseError struct {
	Port int
	Flag string // the CLI flag that picks another port, e.g. --temporal-port
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d is in use: is another quench dev running? use %s", e.Port, e.Flag)
}

// checkPortFree fails with a PortInUseError when host:port cannot be bound. The port is
// released again at once; the server binds it a moment later.
func checkPortFree(host string, port int, flag string) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return &PortInUseError{Port: port, Flag: flag}
		}
		return fmt.Errorf("cannot listen on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	return ln.Close()
}

// freePorts asks the kernel for n distinct free ports on host. All listeners stay open
// until every port is picked, so the n ports differ from each other; the kernel hands out
// ephemeral ports in a spread order, so two servers started in parallel do not get the
// same ones in practice.
func freePorts(host string, n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range listeners {
			_ = ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("cannot find a free port on %s: %w", host, err)
		}
		listeners = append(listeners, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// resolveHost turns Options.Host into the IP to bind and the IP clients dial: a wildcard
// bind (0.0.0.0) is dialled on loopback.
func resolveHost(host string) (bindIP, dialIP string, err error) {
	if host == "localhost" {
		return "127.0.0.1", "127.0.0.1", nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return "", "", fmt.Errorf("host %q is not an IP address: use 127.0.0.1, or 0.0.0.0 to listen on every interface", host)
	}
	if ip.IsUnspecified() {
		return ip.String(), "127.0.0.1", nil
	}
	return ip.String(), ip.String(), nil
}
