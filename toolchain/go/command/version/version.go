// Package version holds the release this plugin reports; the build sets it with
// -ldflags "-X docker-overlay/toolchain/command/version.Version=1.2.1".
package version

// Version is the @pulumi/command release whose resource types this plugin implements.
var Version = "1.2.1"
