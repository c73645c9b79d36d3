// Command ferry is the hosting co-op's control panel: the control plane
// (ferry serve), the node agent (ferry node), the lab and the admin CLI.
package main

import (
	"os"

	"ferry/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
