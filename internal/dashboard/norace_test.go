//go:build !race

package dashboard_test

// raceDetector: the race detector slows everything several times over, so
// timing budgets are measured and logged but not enforced.
const raceDetector = false
