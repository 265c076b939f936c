package dev

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/sample"
)

func TestSampleFillsOnlyWhatIsNotConfigured(t *testing.T) {
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	cfg := &config.Config{DataDir: t.TempDir()}
	line, err := ensureSample(cfg, true, now, logger)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cfg.DataDir, sample.Dir, sample.TrafficFile), cfg.Traffic.Log)
	assert.Equal(t, filepath.Join(cfg.DataDir, sample.Dir, sample.PromptsRepo), cfg.Prompts.Repo)
	assert.Equal(t, sample.PromptsPath, cfg.Prompts.Path)
	assert.Contains(t, line, "traffic log and prompts repository in ")
	assert.Contains(t, line, "--sample=false")
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		assert.Contains(t, l, "level=INFO")
	}
	assert.Contains(t, logs.String(), "sample traffic log created")
	assert.Contains(t, logs.String(), "sample prompts repository created")

	// A configured traffic log is used as is; only the prompts come from the sample.
	mine := filepath.Join(t.TempDir(), "mine.jsonl")
	cfg = &config.Config{DataDir: t.TempDir(), Traffic: config.Traffic{Log: mine}}
	line, err = ensureSample(cfg, true, now, logger)
	require.NoError(t, err)
	assert.Equal(t, mine, cfg.Traffic.Log)
	assert.NotEmpty(t, cfg.Prompts.Repo)
	assert.True(t, strings.HasPrefix(line, "prompts repository in "), line)
	assert.NoFileExists(t, filepath.Join(cfg.DataDir, sample.Dir, sample.TrafficFile))

	// --sample=false: nothing is written, nothing configured, an INFO line says so.
	logs.Reset()
	cfg = &config.Config{DataDir: t.TempDir()}
	line, err = ensureSample(cfg, false, now, logger)
	require.NoError(t, err)
	assert.Empty(t, line)
	assert.Empty(t, cfg.Traffic.Log)
	assert.Empty(t, cfg.Prompts.Repo)
	_, statErr := os.Stat(filepath.Join(cfg.DataDir, sample.Dir))
	assert.True(t, os.IsNotExist(statErr), "sample folder created with --sample=false")
	assert.Contains(t, logs.String(), "level=INFO")
	assert.Contains(t, logs.String(), "--sample=false")
}
