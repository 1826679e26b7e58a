// Package check validates the deploy/ files offline. Its tests render each
// kustomize overlay of deploy/kubernetes with the kustomize Go API (the same
// engine as `kubectl kustomize`) and decode every rendered object strictly
// into the official Kubernetes Go types (and the Prometheus Operator's for
// ServiceMonitor): an unknown or misspelt field fails the test.
//
// It is a module of its own so that the gateway's module does not depend on
// k8s.io packages: `cd deploy/check && go test ./...` (scripts/test.sh runs
// it).
package check
