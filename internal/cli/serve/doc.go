// Package serve implements `quench worker` and `quench server`, the scale-out halves
// against a real Temporal cluster. `quench dev` (the embedded server) is internal/cli/dev,
// so that the light quench binary links these two without the server.
package serve
