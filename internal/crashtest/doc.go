// Package crashtest holds the crash-safety tests of the hub and the sensor
// (docs/RELIABILITY.md): they build the hdn binary, run it as a separate
// process under load, kill it with SIGKILL at a random (seeded, logged)
// moment, restart it on the same directory, and check that nothing it had
// acknowledged was lost and that what it left on disk is consistent. The
// package has no code of its own; the tests are in its _test.go files.
package crashtest
