// Command tegata serves instance identity and certificates for virtual machines over
// Azure's wire protocols. Run `tegata --help` for the commands; `tegata up` starts
// every part with no configuration.
package main

import (
	"os"

	"github.com/tegata-project/tegata/internal/cli"
)

func main() { os.Exit(cli.Execute()) }
