// Command compose-config checks a Compose file as `docker compose config` does and prints
// the project it describes as JSON.
//
// It calls the library Docker Compose v2 itself loads files with (compose-go), with the
// options of `docker compose config`: variables interpolated from the environment (a
// ${VAR:?message} left unset is an error), the file validated against the Compose
// Specification's JSON schema (unknown keys and wrong types are errors), the model
// normalised, paths resolved, and the consistency checks (a service that depends on, or a
// volume, network, config or secret that is used but not declared, is an error). Nothing
// is pulled or started. Built by scripts/setup into deploy/compose/target/compose-config
// (this machine has the docker CLI without its compose plugin).
//
// Usage: compose-config [-p NAME] -f FILE [-f FILE ...]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var paths files
	flag.Var(&paths, "f", "Compose file (repeat for overrides)")
	name := flag.String("p", "eams", "project name")
	flag.Parse()
	if len(paths) == 0 {
		fmt.Fprintln(os.Stderr, "compose-config: name the Compose file with -f FILE")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(
		paths,
		cli.WithWorkingDirectory(filepath.Dir(paths[0])),
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithName(*name),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err == nil {
		var text []byte
		project, loadErr := options.LoadProject(context.Background())
		err = loadErr
		if err == nil {
			text, err = project.MarshalJSON()
		}
		if err == nil {
			os.Stdout.Write(append(text, '\n'))
			return
		}
	}
	fmt.Fprintf(os.Stderr, "compose-config: %s: %v\n", strings.Join(paths, ", "), err)
	os.Exit(1)
}
