package anchor

import (
	"sync"

	"github.com/go-logr/logr/funcr"
	"go.uber.org/zap"
	"k8s.io/klog/v2"
)

// klogOnce guards routeKlog: klog is global to the process.
var klogOnce sync.Once

// routeKlog sends Tessera's klog output through log at debug level (the
// first anchor's logger, for the whole process): its lines ("Initializing
// directory for POSIX log", a harmless "Failed to fetch old checkpoint" on
// a new log) would otherwise interleave with inbond's own output on stderr.
func routeKlog(log *zap.Logger) {
	klogOnce.Do(func() {
		named := log.Named("tessera")
		klog.SetLogger(funcr.New(func(prefix, args string) { named.Debug(prefix + " " + args) }, funcr.Options{}))
	})
}
