// Package version holds the release the provider reports to the Pulumi engine and writes into
// its schema. toolchain/build-docker-provider.sh sets it with
// -ldflags "-X docker-overlay/toolchain/docker/version.Version=5.2.0".
package version

// Version is the @pulumi/docker release this provider serves.
var Version = "0.0.0-dev"
