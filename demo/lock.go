package demo

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// lockTTL is how long the demo's hold on its key prefix outlives a demo
// killed without a chance to release it.
const lockTTL = 10 * time.Second

// renewScript extends the hold only while it is still this demo's.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// releaseScript deletes the hold only while it is still this demo's.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// holdPrefix makes this demo the only one using prefix in the Redis at
// addr: the demo clears the prefix at start and its processor claims every
// partition under it, so a second demo there would wipe the first one's
// state and fence its processor. It returns the release, to call at the
// end; an unreachable Redis (the demo then runs an in-process one) needs
// no hold.
func holdPrefix(ctx context.Context, addr, prefix string) (release func(), err error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return func() {}, nil
	}
	_ = c.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	host, _ := os.Hostname()
	// Beside the prefix, not under it: the demo clears its prefix at start.
	key, me := strings.TrimSuffix(prefix, ":")+"-demo-lock", fmt.Sprintf("%s pid %d", host, os.Getpid())
	ok, err := rdb.SetNX(ctx, key, me, lockTTL).Result()
	if err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", addr, err)
	}
	if !ok {
		holder, _ := rdb.Get(ctx, key).Result()
		_ = rdb.Close()
		return nil, fmt.Errorf("another inbond demo (%s) keeps its state in Redis %s under %s: stop it, or give this one another --key-prefix or --redis", holder, addr, prefix)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(lockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = renewScript.Run(context.Background(), rdb, []string{key}, me, lockTTL.Milliseconds()).Err()
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		// A failed release expires within lockTTL anyway.
		_ = releaseScript.Run(context.Background(), rdb, []string{key}, me).Err()
		_ = rdb.Close()
	}, nil
}
