package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/state"
	"github.com/redis/go-redis/v9"
)

// TestNewStoreRefusesUnsafePrefix: a store under the empty prefix would
// unlink every key in Redis on DeletePrefix, and a prefix holding a brace
// would replace the partition hash tag; NewStore refuses both. It runs on a
// redis-server of its own, so that an accepted empty prefix could only ever
// wipe this test's server.
func TestNewStoreRefusesUnsafePrefix(t *testing.T) {
	srv := testenv.StartOwnRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := t.Context()
	const bystander = "someone-else:key"
	seed := func() {
		t.Helper()
		if err := rdb.Set(ctx, bystander, "keep me", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"", "{p1}", "inbond:{", "inbond}:"} {
		seed()
		s, err := state.NewStore(rdb, prefix)
		if err == nil {
			t.Errorf("NewStore(rdb, %q) accepted the prefix", prefix)
			if err := s.DeletePrefix(ctx); err != nil {
				t.Errorf("DeletePrefix under %q: %v", prefix, err)
			}
			if n := rdb.Exists(ctx, bystander).Val(); n == 0 {
				t.Errorf("DeletePrefix under %q unlinked %q, a key outside the store", prefix, bystander)
			}
			continue
		}
		if !strings.Contains(err.Error(), "prefix") {
			t.Errorf("NewStore(rdb, %q): error %q does not say the prefix is the problem", prefix, err)
		}
	}
	if _, err := state.NewStore(nil, "inbond:"); err == nil {
		t.Error("NewStore(nil, ...) accepted a nil client")
	}
	s, err := state.NewStore(rdb, "inbond:")
	if err != nil || s.Prefix() != "inbond:" {
		t.Fatalf("NewStore(rdb, \"inbond:\") = %v, %v", s, err)
	}
	seed()
	if err := s.DeletePrefix(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, bystander).Val(); n == 0 {
		t.Errorf("DeletePrefix under \"inbond:\" unlinked %q", bystander)
	}
}

// fillPartitions claims every partition 0..partitions-1 and flushes
// perPartition new shipments into each, so that the store holds keys under
// every partition's hash tag.
func fillPartitions(t *testing.T, store *state.Store, partitions, perPartition int) {
	t.Helper()
	ctx := t.Context()
	for p := range partitions {
		c, err := store.Claim(ctx, p, "filler", 0)
		if err != nil {
			t.Fatal(err)
		}
		changes := make([]state.Change, perPartition)
		for i := range changes {
			sh := state.New(event.ShipmentID(fmt.Sprintf("S-%d-%d", p, i)))
			sh.Carrier = event.CarrierID(fmt.Sprintf("C%d", i))
			changes[i] = state.Change{Shipment: sh}
		}
		if err := store.Flush(ctx, &c, int64(perPartition), changes); err != nil {
			t.Fatalf("flush partition %d: %v", p, err)
		}
	}
}

// keysPerNode counts the keys under prefix on each node forEach visits
// (every master of a cluster, every shard of a ring), by the node's address.
func keysPerNode(t *testing.T, forEach func(context.Context, func(context.Context, *redis.Client) error) error, prefix string) map[string]int {
	t.Helper()
	var mu sync.Mutex // guards out
	out := map[string]int{}
	err := forEach(t.Context(), func(ctx context.Context, node *redis.Client) error {
		keys, err := node.Keys(ctx, prefix+"*").Result() // own servers: KEYS blocks nobody else
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		out[node.Options().Addr] = len(keys)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func total(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// checkDeletePrefixEverywhere fills a store and a neighbouring one across
// many partitions, deletes the first store's prefix and checks that no node
// keeps any of its keys while the neighbour keeps all of its own.
func checkDeletePrefixEverywhere(t *testing.T, rdb redis.UniversalClient, forEach func(context.Context, func(context.Context, *redis.Client) error) error) {
	t.Helper()
	const partitions, perPartition = 24, 3
	store, err := state.NewStore(rdb, "t:sharded:")
	if err != nil {
		t.Fatal(err)
	}
	neighbour, err := state.NewStore(rdb, "t:neighbour:")
	if err != nil {
		t.Fatal(err)
	}
	fillPartitions(t, store, partitions, perPartition)
	fillPartitions(t, neighbour, 4, 1)
	before := keysPerNode(t, forEach, store.Prefix())
	nodes := 0
	for _, n := range before {
		if n > 0 {
			nodes++
		}
	}
	t.Logf("keys under %s per node before DeletePrefix: %v", store.Prefix(), before)
	if nodes < 2 {
		t.Fatalf("the store's keys sit on %d node(s) %v: the test needs them spread over several", nodes, before)
	}
	neighbourBefore := total(keysPerNode(t, forEach, neighbour.Prefix()))

	if err := store.DeletePrefix(t.Context()); err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	if after := keysPerNode(t, forEach, store.Prefix()); total(after) != 0 {
		t.Errorf("keys under %s left after DeletePrefix, per node: %v (before: %v)", store.Prefix(), after, before)
	}
	if n := total(keysPerNode(t, forEach, neighbour.Prefix())); n != neighbourBefore {
		t.Errorf("DeletePrefix of %s changed %s: %d keys, had %d", store.Prefix(), neighbour.Prefix(), n, neighbourBefore)
	}
	if err := neighbour.DeletePrefix(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestDeletePrefixReachesEveryClusterMaster: on a Redis Cluster, SCAN sees
// one node's keys only, so DeletePrefix must scan every master; and an
// UNLINK of keys from several slots is refused there.
func TestDeletePrefixReachesEveryClusterMaster(t *testing.T) {
	cluster := testenv.StartOwnRedisCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	checkDeletePrefixEverywhere(t, rdb, rdb.ForEachMaster)
}

// TestDeletePrefixReachesEveryRingShard: a Ring spreads the partitions' hash
// tags over its shards as a cluster spreads them over masters.
func TestDeletePrefixReachesEveryRingShard(t *testing.T) {
	a, b := testenv.StartOwnRedis(t), testenv.StartOwnRedis(t)
	rdb := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr, "b": b.Addr}})
	t.Cleanup(func() { _ = rdb.Close() })
	checkDeletePrefixEverywhere(t, rdb, rdb.ForEachShard)
}

// The stages above state write their records, timers, set members, outbox and
// the partition's clock in the flush's one step; a claim resumes the clock;
// only the owner trims the outbox.
func TestFlushWithExtra(t *testing.T) {
	r := testenv.NewRedis(t)
	store, err := state.NewStore(r.Client, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	c, err := store.Claim(ctx, 5, "a", 0)
	if err != nil || c.Clock != 0 {
		t.Fatalf("claim %+v %v", c, err)
	}
	extra := &state.Extra{
		Records: []state.Record{{Suffix: "watch:S1", Value: []byte(`{"w":1}`)}},
		Timers:  []state.Timer{{Shipment: "S1", Due: 1000}, {Shipment: "S2", Due: 2000}},
		Members: []state.Member{{Set: "alerts:active", Member: "A1"}},
		Outbox:  [][]byte{[]byte("one"), []byte("two")},
		Clock:   1500,
	}
	if err := store.FlushWith(ctx, &c, 3, nil, extra); err != nil {
		t.Fatal(err)
	}
	recs, err := store.LoadRecords(ctx, 5, []string{"watch:S1", "watch:S9"})
	if err != nil || string(recs[0]) != `{"w":1}` || recs[1] != nil {
		t.Fatalf("records %q %v", recs, err)
	}
	timers, err := store.Timers(ctx, 5)
	if err != nil || len(timers) != 2 || timers["S1"] != 1000 || timers["S2"] != 2000 {
		t.Fatalf("timers %v %v", timers, err)
	}
	if !r.Client.SIsMember(ctx, store.RecordKey(5, "alerts:active"), "A1").Val() {
		t.Fatal("set member not added")
	}
	// A second flush removes a timer and a member and appends to the outbox.
	extra = &state.Extra{Timers: []state.Timer{{Shipment: "S1"}}, Members: []state.Member{{Set: "alerts:active", Member: "A1", Remove: true}},
		Outbox: [][]byte{[]byte("three")}}
	if err := store.FlushWith(ctx, &c, 4, nil, extra); err != nil {
		t.Fatal(err)
	}
	if timers, _ := store.Timers(ctx, 5); len(timers) != 1 || timers["S2"] != 2000 {
		t.Fatalf("timers after removal %v", timers)
	}
	out, err := store.Outbox(ctx, 5, 10)
	if err != nil || len(out) != 3 || string(out[0]) != "one" || string(out[2]) != "three" {
		t.Fatalf("outbox %q %v", out, err)
	}
	newer, err := store.Claim(ctx, 5, "b", c.Epoch)
	if err != nil || newer.Clock != 1500 || newer.Offset != 4 {
		t.Fatalf("claim after the flushes %+v %v: want the clock 1500 back at offset 4", newer, err)
	}
	if err := store.TrimOutbox(ctx, c, 2); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("trim by the fenced owner: %v", err)
	}
	if err := store.TrimOutbox(ctx, newer, 2); err != nil {
		t.Fatal(err)
	}
	if out, _ := store.Outbox(ctx, 5, 10); len(out) != 1 || string(out[0]) != "three" {
		t.Fatalf("outbox after the trim %q", out)
	}
}
