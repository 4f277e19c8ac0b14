// Command hdn is the Healthcare Detection Network: the sharing hub, the
// sensor, the admin tools and the demo, in one binary.
package main

import (
	"os"

	"github.com/hdnetwork/hdn/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdout, os.Stderr))
}
