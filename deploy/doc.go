// Package deploy holds no code: it is the production deploy files (Dockerfile, compose,
// Kubernetes manifests, quench.yaml) and the tests that check them against the code.
package deploy
