package dev

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/sample"
)

// ensureSample points the traffic and prompts ports that nothing configures at the sample
// in the data dir (creating it the first time), so every built-in runbook has something to
// work on. It runs with the data dir's lock held. It returns the summary's line.
func ensureSample(cfg *config.Config, on bool, now time.Time, logger *slog.Logger) (string, error) {
	traffic := cfg.Traffic.Log == "" && cfg.Traffic.Kind == ""
	prompts := cfg.Prompts.Repo == "" && cfg.Prompts.Kind == "" && !cfg.GitHub.Enabled() &&
		reflect.ValueOf(cfg.Prompts.Langfuse).IsZero()
	if !on {
		if traffic || prompts {
			logger.Info("sample off (--sample=false): steps that need a traffic source or prompts repository that is not configured are skipped")
		}
		return "", nil
	}
	if !traffic && !prompts {
		return "", nil
	}
	res, err := sample.Ensure(cfg.DataDir, sample.Options{Now: now, Traffic: traffic, Prompts: prompts})
	if err != nil {
		return "", fmt.Errorf("%w (start with --sample=false to run without the sample)", err)
	}
	var used []string
	if res.Traffic != "" {
		cfg.Traffic.Log = res.Traffic
		used = append(used, "traffic log")
		logger.Info("sample traffic log "+string(res.TrafficOutcome)+": evidence and verify read it until you pass --traffic-log",
			"path", res.Traffic, "outcome", string(res.TrafficOutcome))
	}
	if res.Repo != "" {
		cfg.Prompts.Repo, cfg.Prompts.Path = res.Repo, sample.PromptsPath
		used = append(used, "prompts repository")
		logger.Info("sample prompts repository "+string(res.RepoOutcome)+": prompt changes and rollbacks use it until you pass --prompts-repo",
			"path", res.Repo, "outcome", string(res.RepoOutcome))
	}
	return fmt.Sprintf("%s in %s (--sample=false turns it off)", strings.Join(used, " and "), res.Dir), nil
}
