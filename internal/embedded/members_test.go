package embedded

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const (
	testGroup   = "g-dead-member"
	testSession = 500 * time.Millisecond
)

// TestDeadJoinerIsEvicted plays the kfake bug with raw group requests: a
// leader is Stable; a second member joins and its connection closes while
// the JoinGroup waits for the leader to rejoin; the leader rejoins, which
// completes the rebalance, and syncs an assignment for both. When kfake's
// answer to the closed connection fails (a coin toss), it keeps the dead
// member for ever. Rounds repeat until that happens. With the guard, the
// dead member must be gone within three session timeouts and the eviction
// logged; without it (KeepDeadMembers), it must still be there, which also
// tells whoever bumps kfake whether the guard is still needed.
func TestDeadJoinerIsEvicted(t *testing.T) {
	for _, guard := range []bool{true, false} {
		name := map[bool]string{true: "guard", false: "kfake alone"}[guard]
		t.Run(name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			var cluster *kfake.Cluster
			brokers, stop, err := Kafka(KafkaConfig{
				KeepDeadMembers: !guard, Log: zap.New(core),
				OnStart: func(c *kfake.Cluster) { cluster = c },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l := startLeader(ctx, t, brokers)

			const rounds = 10
			for round := 1; round <= rounds; round++ {
				dead := l.deadJoiner(ctx, t, brokers, cluster)
				settled := waitInfo(t, cluster, 5*time.Second, func(i *kfake.GroupInfo) bool { return i.State == "Stable" })
				settledAt := time.Now()
				if !has(settled, dead) {
					t.Logf("round %d: the rebalance completed without the dead member", round)
					continue
				}
				time.Sleep(testSession + testSession/2) // kfake times out a member it answered after one session
				if i := cluster.GroupInfo(testGroup); !has(i, dead) {
					t.Logf("round %d: kfake timed the dead member out by itself", round)
					continue
				}
				if !guard {
					time.Sleep(4 * testSession)
					if i := cluster.GroupInfo(testGroup); !has(i, dead) || i.State != "Stable" {
						t.Fatalf("round %d: the dead member left after all (%s, %d members)", round, i.State, len(i.Members))
					}
					t.Logf("round %d: kfake still keeps the dead member %v after the group settled", round, time.Since(settledAt).Round(time.Millisecond))
					return
				}
				waitInfo(t, cluster, 3*testSession, func(i *kfake.GroupInfo) bool {
					return i.State == "Stable" && len(i.Members) == 1 && !has(i, dead)
				})
				evicted := logs.FilterMessageSnippet("evicted a consumer-group member").FilterField(zap.String("member", dead)).All()
				if len(evicted) != 1 {
					t.Fatalf("round %d: dead member gone, %d eviction logs for it; all logs: %v", round, len(evicted), logs.All())
				}
				silent := evicted[0].ContextMap()["silent"].(time.Duration)
				if silent < 2*testSession {
					t.Fatalf("evicted after %v of silence, before twice the session timeout", silent)
				}
				t.Logf("round %d: evicted after %v of silence: %s", round, silent, evicted[0].Message)
				return
			}
			t.Fatalf("in %d rounds kfake never kept a dead member: if a newer kfake times such members out, the guard in members.go can go", rounds)
		})
	}
}

func waitInfo(t *testing.T, c *kfake.Cluster, within time.Duration, ok func(*kfake.GroupInfo) bool) *kfake.GroupInfo {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if i := c.GroupInfo(testGroup); i != nil && ok(i) {
			return i
		}
		if time.Now().After(deadline) {
			i := c.GroupInfo(testGroup)
			t.Fatalf("group not as expected within %v: %+v", within, i)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func has(i *kfake.GroupInfo, member string) bool {
	if i == nil {
		return false
	}
	for _, m := range i.Members {
		if m.MemberID == member {
			return true
		}
	}
	return false
}

// leader is a group member driven by raw requests: it heartbeats, and
// rejoins and assigns when told of a rebalance, once its gate is open.
type leader struct {
	cl   *kgo.Client
	mu   sync.Mutex
	id   string
	gen  int32
	gate chan struct{} // closed: it may rejoin
}

func startLeader(ctx context.Context, t *testing.T, brokers []string) *leader {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	l := &leader{cl: cl, gate: make(chan struct{})}
	close(l.gate)
	if err := l.rejoin(ctx); err != nil {
		t.Fatal(err)
	}
	go l.run(ctx)
	return l
}

func (l *leader) run(ctx context.Context) {
	for ctx.Err() == nil {
		time.Sleep(testSession / 5)
		l.mu.Lock()
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.MemberID, req.Generation = testGroup, l.id, l.gen
		gate := l.gate
		l.mu.Unlock()
		resp, err := req.RequestWith(ctx, l.cl)
		if err != nil || resp.ErrorCode == 0 {
			continue
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return
		}
		_ = l.rejoin(ctx) // on failure the next heartbeat says so again
	}
}

// rejoin joins, assigns the 12 partitions round robin as the leader, and syncs.
func (l *leader) rejoin(ctx context.Context) error {
	l.mu.Lock()
	id := l.id
	l.mu.Unlock()
	resp, err := join(ctx, l.cl, id)
	if err != nil {
		return err
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = testGroup, resp.MemberID, resp.Generation
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	if resp.LeaderID == resp.MemberID {
		parts := make([][]int32, len(resp.Members))
		for p := range int32(12) {
			parts[int(p)%len(parts)] = append(parts[int(p)%len(parts)], p)
		}
		for i, m := range resp.Members {
			a := kmsg.NewConsumerMemberAssignment()
			at := kmsg.NewConsumerMemberAssignmentTopic()
			at.Topic, at.Partitions = "inbond.events", parts[i]
			a.Topics = append(a.Topics, at)
			ga := kmsg.NewSyncGroupRequestGroupAssignment()
			ga.MemberID, ga.MemberAssignment = m.MemberID, a.AppendTo(nil)
			sync.GroupAssignment = append(sync.GroupAssignment, ga)
		}
	}
	sresp, err := sync.RequestWith(ctx, l.cl)
	if err == nil {
		err = kerr.ErrorForCode(sresp.ErrorCode)
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.id, l.gen = resp.MemberID, resp.Generation
	l.mu.Unlock()
	return nil
}

// deadJoiner makes a member join and closes its connection while its
// JoinGroup waits for the leader, whose rejoin it holds back until then;
// it returns the dead member's ID.
func (l *leader) deadJoiner(ctx context.Context, t *testing.T, brokers []string, c *kfake.Cluster) string {
	t.Helper()
	gate := make(chan struct{})
	l.mu.Lock()
	l.gate = gate
	l.mu.Unlock()
	defer close(gate)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	first, err := joinOnce(ctx, cl, "")
	if !errors.Is(err, kerr.MemberIDRequired) {
		t.Fatalf("first join: %v, want MEMBER_ID_REQUIRED", err)
	}
	id := first.MemberID
	jctx, stopJoin := context.WithCancel(ctx)
	joined := make(chan struct{})
	go func() {
		defer close(joined)
		_, _ = joinOnce(jctx, cl, id) // waits in kfake until the leader rejoins
	}()
	waitInfo(t, c, 5*time.Second, func(i *kfake.GroupInfo) bool { return i.State == "PreparingRebalance" && has(i, id) })
	stopJoin()
	cl.Close() // the connection closes with the JoinGroup waiting
	<-joined
	time.Sleep(50 * time.Millisecond) // kfake reads the EOF
	return id
}

func join(ctx context.Context, cl *kgo.Client, member string) (*kmsg.JoinGroupResponse, error) {
	resp, err := joinOnce(ctx, cl, member)
	if errors.Is(err, kerr.MemberIDRequired) {
		return joinOnce(ctx, cl, resp.MemberID)
	}
	return resp, err
}

func joinOnce(ctx context.Context, cl *kgo.Client, member string) (*kmsg.JoinGroupResponse, error) {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.MemberID, req.ProtocolType = testGroup, member, "consumer"
	req.SessionTimeoutMillis = int32(testSession / time.Millisecond)
	req.RebalanceTimeoutMillis = 5000
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"inbond.events"}
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	return resp, kerr.ErrorForCode(resp.ErrorCode)
}
