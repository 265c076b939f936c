// Package configtest writes a quench.yaml for a test and loads it as quench would.
package configtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/quench-dev/quench/internal/config"
)

// TwoPromptTargets configures GitHub and a git repository as prompts targets without
// prompts.kind: a config every command must refuse before it starts anything. Its token
// reference needs QUENCH_TEST_GH_TOKEN set.
const TwoPromptTargets = "github:\n  repo: acme/prompts\n  token: env:QUENCH_TEST_GH_TOKEN\nprompts:\n  repo: ../my-app\n"

// Load writes data_dir plus yaml to a quench.yaml in a temp dir and loads it.
func Load(t testing.TB, dataDir, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quench.yaml")
	if err := os.WriteFile(path, []byte("data_dir: "+dataDir+"\n"+yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
