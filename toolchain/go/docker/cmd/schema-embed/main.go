// Command schema-embed turns the schema.json written by `pulumi-tfgen-docker schema` into the
// schema the provider embeds: the same document with the package version set (tfgen leaves it
// out) and without indentation.
//
//	schema-embed VERSION IN.json OUT.json
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: schema-embed VERSION IN.json OUT.json")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "schema-embed:", err)
		os.Exit(1)
	}
}

func run(version, in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	// Decode into raw messages so that every other part of the schema is kept byte for byte.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if _, ok := doc["name"]; !ok {
		return fmt.Errorf("%s has no package name; is it a Pulumi schema?", in)
	}
	v, err := json.Marshal(version)
	if err != nil {
		return err
	}
	doc["version"] = v
	full, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, full); err != nil {
		return err
	}
	return os.WriteFile(out, compact.Bytes(), 0o644)
}
