package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// binaries are the programs the suite runs, built once per test binary by TestMain.
type binaries struct {
	quench, temporalServer, sqlTool string
	// schemaDir is the pinned server module's schema/postgresql/v12.
	schemaDir string
}

// toolsDir is the separate module that pins the Temporal server's commands.
const toolsDir = "../../tools/temporal"

// buildBinaries builds quench into tmp and the Temporal server and SQL tool into a cache
// outside the repository, keyed by the tools module's go.mod and go.sum: a cold build of
// the server takes minutes on two cores, a warm run reuses it.
func buildBinaries(tmp string) (*binaries, error) {
	b := &binaries{quench: filepath.Join(tmp, "quench")}
	if err := run("", "go", "build", "-o", b.quench, "../../cmd/quench"); err != nil {
		return nil, fmt.Errorf("build quench: %w", err)
	}
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOCACHE: %w", err)
	}
	key, err := toolsKey()
	if err != nil {
		return nil, err
	}
	cache := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "quench-temporal-bin", key)
	b.temporalServer = filepath.Join(cache, "temporal-server")
	b.sqlTool = filepath.Join(cache, "temporal-sql-tool")
	if !exists(b.temporalServer) || !exists(b.sqlTool) {
		fmt.Fprintf(os.Stderr, "building the Temporal server and SQL tool from %s into %s (minutes when cold) ...\n", toolsDir, cache)
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return nil, err
		}
		// Build under temporary names and rename: a run killed mid-build leaves no
		// half-written binary that the next run would take for a cached one.
		for pkg, dst := range map[string]string{
			"go.temporal.io/server/cmd/server":    b.temporalServer,
			"go.temporal.io/server/cmd/tools/sql": b.sqlTool,
		} {
			tmpDst := dst + ".building"
			if err := run(toolsDir, "go", "build", "-o", tmpDst, pkg); err != nil {
				return nil, fmt.Errorf("build %s in %s: %w", pkg, toolsDir, err)
			}
			if err := os.Rename(tmpDst, dst); err != nil {
				return nil, err
			}
		}
	}
	// The cluster must run the server quench is built and tested against.
	pinned, err := goList("../..", "{{.Version}}")
	if err != nil {
		return nil, err
	}
	tools, err := goList(toolsDir, "{{.Version}}")
	if err != nil {
		return nil, err
	}
	if pinned != tools {
		return nil, fmt.Errorf("tools/temporal builds go.temporal.io/server %s but quench's go.mod pins %s: keep them equal", tools, pinned)
	}
	dir, err := goList(toolsDir, "{{.Dir}}")
	if err != nil {
		return nil, err
	}
	b.schemaDir = filepath.Join(dir, "schema", "postgresql", "v12")
	if !exists(filepath.Join(b.schemaDir, "temporal", "versioned")) {
		return nil, fmt.Errorf("no PostgreSQL schema in %s", b.schemaDir)
	}
	return b, nil
}

func toolsKey() (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(toolsDir, f))
		if err != nil {
			return "", err
		}
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// goList answers `go list -m -f format go.temporal.io/server` in the module at dir.
func goList(dir, format string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", format, "go.temporal.io/server")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m go.temporal.io/server in %s: %w", dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}
