package realkafka

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel SIGKILL the JVM when the process that
// started it dies, however it dies (a test binary killed by go test's
// timeout, a SIGKILL): no broker outlives its test run holding ports and
// CPU. The kernel tracks the starting thread, not the process; Go's runtime
// keeps its threads, so in practice that is the process.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
