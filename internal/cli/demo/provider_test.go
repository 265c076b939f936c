package demo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/probe"
)

// The demo's probes section loads as quench's config, and its probe sees the primary's
// fault and its recovery.
func TestDemoProbeMeasuresTheFakePrimary(t *testing.T) {
	prov, err := startProvider()
	if err != nil {
		t.Fatal(err)
	}
	defer prov.close()
	path := filepath.Join(t.TempDir(), "quench.yaml")
	if err := os.WriteFile(path, []byte(prov.probeConfig()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	set, err := probe.NewSet(cfg.Probes)
	if err != nil {
		t.Fatal(err)
	}
	src, ok := set.For(primary)
	if !ok {
		t.Fatalf("no probe for %s in %v", primary, cfg.Probes)
	}
	in := ports.HealthInput{Provider: primary, Window: time.Minute}

	prov.faulty.Store(true)
	fig, err := src.ProviderHealth(context.Background(), in)
	if err != nil || fig.Requests != 5 || fig.Errors == 0 {
		t.Fatalf("with the fault: %+v, %v; want errors among 5 requests", fig, err)
	}
	prov.faulty.Store(false)
	fig, err = src.ProviderHealth(context.Background(), in)
	if err != nil || fig.Requests != 5 || fig.Errors != 0 {
		t.Fatalf("fault cleared: %+v, %v; want 5 clean requests", fig, err)
	}
}
