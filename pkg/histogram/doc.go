// Package histogram is a lock-free fixed-bucket histogram for the core
// packages' Stats() snapshots: they observe values on hot paths without
// depending on a metrics library, and the edge (internal/metrics) turns a
// Snapshot into a Prometheus histogram.
//
// All methods may be called concurrently. The zero Histogram is not usable;
// build one with New.
package histogram
