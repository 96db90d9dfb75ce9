package alerts

import (
	"slices"
	"strings"

	"github.com/inbond/inbond/event"
)

// IdentityMemory lists who spoke for the shipment outside its bond: the
// devices not registered on the manifest ("carrier/device") and the
// carriers neither bonded nor transferees, at most MaxIdentities of each.
type IdentityMemory struct {
	Devices  []string          `json:"devices,omitempty"`
	Carriers []event.CarrierID `json:"carriers,omitempty"`
}

// MaxIdentities bounds each list of IdentityMemory.
const MaxIdentities = 8

// identityRule flags an event, once a manifest rules, from a device the
// manifest does not register (when it registers devices at all), or from a
// carrier that is neither the bonded carrier nor one the goods were
// transferred to. When the manifest arrives after such events, the devices
// already heard (state's sequence numbers) are judged then. An amended
// manifest that registers every device and carrier flagged resolves it.
func identityRule(j *judge) {
	m := j.sh.Manifest
	if m == nil {
		return
	}
	e := j.e
	if _, ok := e.Data.(*event.Manifest); ok {
		if j.applied {
			j.identityRecheck()
		}
		return
	}
	device := e.Device != "" && !j.registered()
	carrier := !j.bonded(e.Carrier)
	if !device && !carrier {
		return
	}
	changed := false
	if device {
		changed = j.identityAdd(string(e.Carrier)+"/"+string(e.Device), "") || changed
	}
	if carrier {
		changed = j.identityAdd("", e.Carrier) || changed
	}
	if changed || j.w.Active[RuleIdentity] == nil {
		j.raiseIdentity(e.ID, e.Device)
	}
}

// bonded reports whether c may speak for the shipment: the bonded carrier
// or a transferee.
func (j *judge) bonded(c event.CarrierID) bool {
	if c == j.sh.Manifest.Carrier.SCAC {
		return true
	}
	for _, t := range j.sh.Transfers {
		if t.To == c {
			return true
		}
	}
	return false
}

func (j *judge) identityAdd(device string, carrier event.CarrierID) bool {
	mem := j.w.Memory.Identity
	if mem == nil {
		mem = &IdentityMemory{}
		j.w.Memory.Identity = mem
	}
	switch {
	case device != "" && !slices.Contains(mem.Devices, device) && len(mem.Devices) < MaxIdentities:
		mem.Devices = append(mem.Devices, device)
		return true
	case carrier != "" && !slices.Contains(mem.Carriers, carrier) && len(mem.Carriers) < MaxIdentities:
		mem.Carriers = append(mem.Carriers, carrier)
		return true
	}
	return false
}

// identityRecheck judges, when a manifest is applied, the devices heard
// before it, and drops from the memory those it registers now.
func (j *judge) identityRecheck() {
	m := j.sh.Manifest
	known := func(device string) bool {
		c, d, _ := strings.Cut(device, "/")
		return j.bonded(event.CarrierID(c)) && (len(m.Devices) == 0 || slices.Contains(m.Devices, event.DeviceID(d)))
	}
	changed := false
	if mem := j.w.Memory.Identity; mem != nil {
		n := len(mem.Devices) + len(mem.Carriers)
		mem.Devices = slices.DeleteFunc(mem.Devices, known)
		mem.Carriers = slices.DeleteFunc(mem.Carriers, j.bonded)
		changed = len(mem.Devices)+len(mem.Carriers) != n
	}
	seen := make([]string, 0, len(j.sh.DeviceSeq))
	for k := range j.sh.DeviceSeq {
		seen = append(seen, k)
	}
	slices.Sort(seen)
	for _, k := range seen {
		if !known(k) {
			c, _, _ := strings.Cut(k, "/")
			if !j.bonded(event.CarrierID(c)) {
				changed = j.identityAdd("", event.CarrierID(c)) || changed
			}
			changed = j.identityAdd(k, "") || changed
		}
	}
	mem := j.w.Memory.Identity
	if mem == nil || len(mem.Devices)+len(mem.Carriers) == 0 {
		j.clear(RuleIdentity, j.now, "the manifest now registers every device and carrier that spoke")
		return
	}
	if changed || j.w.Active[RuleIdentity] == nil {
		j.raiseIdentity(j.e.ID, "")
	}
}

func (j *judge) raiseIdentity(trigger string, device event.DeviceID) {
	m, mem := j.sh.Manifest, j.w.Memory.Identity
	var parts []string
	if len(mem.Devices) > 0 {
		reg := "none"
		if len(m.Devices) > 0 {
			reg = joinIDs(m.Devices)
		}
		ds := make([]string, len(mem.Devices))
		for i, d := range mem.Devices {
			c, dev, _ := strings.Cut(d, "/")
			ds[i] = dev + " of carrier " + c
		}
		parts = append(parts, "events from unregistered device "+strings.Join(ds, ", ")+" (the manifest registers "+reg+")")
	}
	if len(mem.Carriers) > 0 {
		cs := make([]string, len(mem.Carriers))
		for i, c := range mem.Carriers {
			cs[i] = string(c)
		}
		msg := "events from carrier " + strings.Join(cs, ", ") + ", neither the bonded carrier " + string(m.Carrier.SCAC) + " nor a transferee"
		parts = append(parts, msg)
	}
	ev := Evidence{Device: device}
	if a := j.w.Active[RuleIdentity]; a != nil {
		ev.EventIDs = slices.Clone(a.Evidence.EventIDs)
	}
	if !slices.Contains(ev.EventIDs, j.e.ID) && len(ev.EventIDs) < 2*MaxIdentities {
		ev.EventIDs = append(ev.EventIDs, j.e.ID)
	}
	j.raise(RuleIdentity, trigger, j.now, strings.Join(parts, "; "), ev)
}

func joinIDs(ds []event.DeviceID) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = string(d)
	}
	return strings.Join(s, ", ")
}
