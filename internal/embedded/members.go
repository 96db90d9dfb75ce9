package embedded

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// A deadMembers evicts the consumer-group members kfake would keep for ever.
//
// kfake (the version pinned in go.mod, which is also the newest the module
// proxy serves, and upstream master) starts a classic group member's session
// timer only after a JoinGroup or SyncGroup answer reached it: group.reply
// skips updateHeartbeat when the send to the connection fails, which is a
// coin toss once the connection is closed. A member SIGKILLed while its JoinGroup waits for the
// rest of the group therefore gets no timer when the rebalance completes,
// and the leader's SyncGroup then clears the pending-sync timer that would
// have dropped it (completeLeaderSync, clearPendingSync). The group goes
// Stable with the dead member holding its share of the partitions, which
// nobody processes, until some other member joins. Real Kafka times it out
// after its session timeout.
//
// The guard watches every request that names a member (JoinGroup,
// SyncGroup, Heartbeat, OffsetCommit, LeaveGroup) through kfake's control
// hooks, without handling any, and looks at each group it has seen joined
// through Cluster.GroupInfo. A member of a Stable group that nothing named
// for twice its session timeout, counted from when the group was last seen
// settling into its current generation, is one kfake will not time out:
// every live member heartbeats, and kfake itself drops a member that does
// not after one session timeout. The guard then sends a LeaveGroup for it,
// as the member would have on a clean exit, and logs it.
type deadMembers struct {
	c   *kfake.Cluster
	cl  *kgo.Client
	log *zap.Logger

	mu     sync.Mutex
	groups map[string]*watchedGroup
}

type watchedGroup struct {
	session  time.Duration            // longest session timeout a JoinGroup of the group asked for
	sessions map[string]time.Duration // a member's own, once a JoinGroup named it
	heard    map[string]time.Time     // last request naming the member
	evicted  map[string]time.Time     // when the guard last sent a LeaveGroup for the member
	gen      int32                    // generation of stable
	stable   time.Time                // when the group was seen Stable at gen; zero when not Stable
}

// sweepEvery is how often the guard looks at the groups.
const sweepEvery = 200 * time.Millisecond

func watchDeadMembers(c *kfake.Cluster, brokers []string, log *zap.Logger) (*deadMembers, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("inbond-kafka-dead-member-guard"))
	if err != nil {
		return nil, fmt.Errorf("in-process kafka: dead-member guard client: %w", err)
	}
	d := &deadMembers{c: c, cl: cl, log: log, groups: map[string]*watchedGroup{}}
	observe := func(key kmsg.Key, f func(kmsg.Request)) {
		c.ControlKey(key.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
			f(req)
			return nil, nil, false // observed only: kfake handles it as usual
		})
	}
	observe(kmsg.JoinGroup, func(r kmsg.Request) {
		req := r.(*kmsg.JoinGroupRequest)
		d.joined(req.Group, req.MemberID, time.Duration(req.SessionTimeoutMillis)*time.Millisecond)
	})
	observe(kmsg.SyncGroup, func(r kmsg.Request) {
		req := r.(*kmsg.SyncGroupRequest)
		d.heard(req.Group, req.MemberID)
	})
	observe(kmsg.Heartbeat, func(r kmsg.Request) {
		req := r.(*kmsg.HeartbeatRequest)
		d.heard(req.Group, req.MemberID)
	})
	observe(kmsg.OffsetCommit, func(r kmsg.Request) {
		req := r.(*kmsg.OffsetCommitRequest)
		d.heard(req.Group, req.MemberID)
	})
	observe(kmsg.LeaveGroup, func(r kmsg.Request) {
		req := r.(*kmsg.LeaveGroupRequest)
		d.left(req.Group, req.MemberID)
		for _, m := range req.Members {
			d.left(req.Group, m.MemberID)
		}
	})
	return d, nil
}

func (d *deadMembers) group(name string) *watchedGroup {
	g := d.groups[name]
	if g == nil {
		g = &watchedGroup{sessions: map[string]time.Duration{}, heard: map[string]time.Time{}, evicted: map[string]time.Time{}}
		d.groups[name] = g
	}
	return g
}

func (d *deadMembers) joined(group, member string, session time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.group(group)
	g.session = max(g.session, session)
	if member != "" {
		g.sessions[member] = session
		g.heard[member] = time.Now()
	}
}

func (d *deadMembers) heard(group, member string) {
	if member == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if g := d.groups[group]; g != nil {
		g.heard[member] = time.Now()
	}
}

func (d *deadMembers) left(group, member string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if g := d.groups[group]; g != nil {
		delete(g.heard, member)
		delete(g.sessions, member)
	}
}

// run sweeps until ctx ends.
func (d *deadMembers) run(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.sweep(ctx)
		}
	}
}

type deadMember struct {
	kfake.GroupMember
	silent, session time.Duration
}

func (d *deadMembers) sweep(ctx context.Context) {
	d.mu.Lock()
	names := make([]string, 0, len(d.groups))
	for name := range d.groups {
		names = append(names, name)
	}
	d.mu.Unlock()
	for _, name := range names {
		info := d.c.GroupInfo(name) // outside d.mu: it waits for the cluster's loop, which runs the observers
		for _, m := range d.judge(name, info, time.Now()) {
			d.evict(ctx, name, m)
		}
	}
}

// judge updates what is known of the group from info and returns the
// members to evict.
func (d *deadMembers) judge(name string, info *kfake.GroupInfo, now time.Time) []deadMember {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.groups[name]
	if g == nil {
		return nil
	}
	if info == nil { // deleted
		delete(d.groups, name)
		return nil
	}
	present := make(map[string]bool, len(info.Members))
	for _, m := range info.Members {
		present[m.MemberID] = true
	}
	for id, at := range g.heard {
		if !present[id] && now.Sub(at) > 2*max(g.session, g.sessions[id]) {
			delete(g.heard, id)
			delete(g.sessions, id)
		}
	}
	for id := range g.evicted {
		if !present[id] {
			delete(g.evicted, id)
		}
	}
	if info.State != "Stable" {
		g.stable = time.Time{}
		return nil
	}
	if g.stable.IsZero() || g.gen != info.Epoch {
		g.stable, g.gen = now, info.Epoch
		return nil
	}
	var dead []deadMember
	for _, m := range info.Members {
		session := g.sessions[m.MemberID]
		if session == 0 {
			session = g.session
		}
		if session <= 0 {
			continue
		}
		last := g.stable
		if h := g.heard[m.MemberID]; h.After(last) {
			last = h
		}
		if at, ok := g.evicted[m.MemberID]; ok && now.Sub(at) < 2*session {
			continue // one LeaveGroup per two session timeouts, not one per sweep, if it fails
		}
		if silent := now.Sub(last); silent > 2*session {
			dead = append(dead, deadMember{GroupMember: m, silent: silent, session: session})
			g.evicted[m.MemberID] = now
		}
	}
	return dead
}

// evict sends the LeaveGroup the dead member never sent.
func (d *deadMembers) evict(ctx context.Context, group string, m deadMember) {
	fields := []zap.Field{
		zap.String("group", group), zap.String("member", m.MemberID), zap.String("client_id", m.ClientID),
		zap.String("client_host", m.ClientHost), zap.Int("partitions", m.NumAssigned()),
		zap.Duration("silent", m.silent.Round(time.Millisecond)), zap.Duration("session_timeout", m.session),
	}
	reason := "inbond kafka: silent for twice its session timeout in a stable group (kfake keeps such members)"
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	req.MemberID = m.MemberID // v0-2
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID, lm.InstanceID, lm.Reason = m.MemberID, m.InstanceID, &reason
	req.Members = append(req.Members, lm)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(rctx, d.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, r := range resp.Members {
			if err == nil {
				err = kerr.ErrorForCode(r.ErrorCode)
			}
		}
	}
	switch {
	case err == nil:
		d.log.Warn("evicted a consumer-group member that stopped without leaving: nothing was heard from it for twice its session timeout, and kfake would have kept it and its partitions for ever", fields...)
	case ctx.Err() != nil: // stopping
	default:
		d.log.Error("could not evict a consumer-group member that stopped without leaving", append(fields, zap.Error(err))...)
	}
}

func (d *deadMembers) close() { d.cl.Close() }
