// Package version holds the release this plugin reports; the build sets it with
// -ldflags "-X docker-overlay/toolchain/consul/version.Version=3.15.1".
package version

// Version is the @pulumi/consul release whose resource types this plugin implements.
var Version = "3.15.1"
