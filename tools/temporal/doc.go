// Package temporal only pins the Temporal server and its SQL schema tool for the cluster
// tests (test/cluster): a module of its own, so quench's go.mod does not gain the server's
// command-line dependencies (urfave/cli v1 and v2). Build them with
//
//	go build -o temporal-server go.temporal.io/server/cmd/server
//	go build -o temporal-sql-tool go.temporal.io/server/cmd/tools/sql
//
// (both are tool directives in go.mod, so `go tool` runs them too). Keep
// go.temporal.io/server at the version quench's go.mod pins.
package temporal
