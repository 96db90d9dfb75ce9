//go:build !linux

package realkafka

import "os/exec"

// setDeathSignal does nothing where the kernel has no parent-death signal:
// Stop still kills the JVMs.
func setDeathSignal(*exec.Cmd) {}
