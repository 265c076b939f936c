package serve

import "github.com/quench-dev/quench/internal/cli/cmdutil"

// Shared with quench dev (internal/cli/dev) through cmdutil.
var (
	newLogger        = cmdutil.NewLogger
	addTargetFlags   = cmdutil.AddTargetFlags
	applyTargetFlags = cmdutil.ApplyTargetFlags
)
