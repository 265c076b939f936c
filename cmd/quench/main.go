// Command quench is runbook automation for LLM incidents. See README.md.
package main

import (
	"os"

	"github.com/quench-dev/quench/internal/cli"
)

func main() { os.Exit(cli.Main()) }
