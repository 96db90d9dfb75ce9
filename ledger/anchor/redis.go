package anchor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/inbond/inbond/ledger"
	"github.com/redis/go-redis/v9"
)

// receiptScript stores each receipt unless the stored one is at least as
// new: KEYS are receipt keys of one partition (one hash tag, so one slot on a
// cluster), ARGV[1] and ARGV[2] the receipts' checkpoint end offset and log
// index, ARGV[2+i] KEYS[i]'s receipt. It returns how many it stored.
//
// Newer means a later checkpoint end (To), then a later log index: a
// shipment's receipts all come from checkpoints of its one partition, whose
// ends only grow. Comparing in the script makes the check and the write one
// step, so a re-delivered old checkpoint racing nothing can still never
// replace a newer receipt, and an equal one is left as it is (idempotent).
//
// The stored receipt is Receipt.Marshal's RFC 8785 JSON, whose keys are
// sorted: "checkpoint" (whose "to" precedes "topic") comes before "leaf"
// and "log_index", and string values escape their quotes, so the first
// `"to":` and `"log_index":` are the checkpoint's and the receipt's, found
// without decoding kilobytes of proof for every leaf. A value neither is
// found in is not a receipt and is replaced.
var receiptScript = redis.NewScript(`
local to = tonumber(ARGV[1])
local idx = tonumber(ARGV[2])
local n = 0
for i, k in ipairs(KEYS) do
  local cur = redis.call('GET', k)
  local write = true
  if cur then
    local cto = tonumber(string.match(cur, '"to":(%-?%d+)'))
    local cidx = tonumber(string.match(cur, '"log_index":(%d+)'))
    if cto and cidx and (cto > to or (cto == to and cidx >= idx)) then write = false end
  end
  if write then
    redis.call('SET', k, ARGV[i + 2])
    n = n + 1
  end
end
return n
`)

// maxKeysPerCall bounds the receipts of one script call, so one checkpoint of
// thousands of shipments does not hold Redis in one long script.
const maxKeysPerCall = 1000

// sessionScript opens the anchor's position: KEYS[1] is the position hash.
// When it has no session field (never written, or lost with everything
// else in a flush) it is reset and given ARGV[1] as its session, so every
// later position write can tell that the hash it advances is the one it
// read. It returns the hash's fields.
var sessionScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'session') == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'session', ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
`)

// advanceScript advances the position: ARGV[1] is the session the caller
// opened, then (partition, expected offset or "", new offset) triples. It
// writes nothing and returns 0 when the session or an expected offset is not
// what Redis holds (the position was lost since, and the receipts with it),
// else sets the offsets and returns 1.
var advanceScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'session') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i]) or ''
  if cur ~= ARGV[i + 1] then return 0 end
end
for i = 2, #ARGV, 3 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2]) end
return 1
`)

// errPositionLost is a position write that found Redis no longer holding the
// position the anchor read: it must read inbond.checkpoints again from the
// position Redis holds (its start), re-deriving the receipts lost with it.
var errPositionLost = errors.New("anchor: Redis no longer holds the position this anchor left there")

// position is the anchor's consumer position as read at a session's start:
// per partition of inbond.checkpoints, the next offset to read.
type position struct {
	session string
	next    map[int]int64
}

// openPosition reads the position in key, opening a session on it.
func openPosition(ctx context.Context, rdb redis.UniversalClient, key string) (*position, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	res, err := sessionScript.Run(ctx, rdb, []string{key}, hex.EncodeToString(b)).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("anchor: read position %s: %w", key, err)
	}
	p := &position{next: map[int]int64{}}
	for i := 0; i+1 < len(res); i += 2 {
		if res[i] == "session" {
			p.session = res[i+1]
			continue
		}
		part, err1 := strconv.Atoi(res[i])
		off, err2 := strconv.ParseInt(res[i+1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("anchor: position %s: field %q = %q is not partition = offset", key, res[i], res[i+1])
		}
		p.next[part] = off
	}
	return p, nil
}

// advance stores next (partition to next offset) if Redis still holds p,
// and then makes it p's.
func (p *position) advance(ctx context.Context, rdb redis.UniversalClient, key string, next map[int]int64) error {
	args := []any{p.session}
	for part, off := range next {
		if prev, ok := p.next[part]; ok && prev == off {
			continue
		}
		expected := ""
		if prev, ok := p.next[part]; ok {
			expected = strconv.FormatInt(prev, 10)
		}
		args = append(args, strconv.Itoa(part), expected, strconv.FormatInt(off, 10))
	}
	if len(args) == 1 {
		return nil
	}
	ok, err := advanceScript.Run(ctx, rdb, []string{key}, args...).Int()
	if err != nil {
		return fmt.Errorf("anchor: advance position %s: %w", key, err)
	}
	if ok != 1 {
		return errPositionLost
	}
	for part, off := range next {
		p.next[part] = off
	}
	return nil
}

// check reports errPositionLost when Redis no longer holds p's session: an
// idle anchor notices a flush without waiting for its next record.
func (p *position) check(ctx context.Context, rdb redis.UniversalClient, key string) error {
	s, err := rdb.HGet(ctx, key, "session").Result()
	if errors.Is(err, redis.Nil) || (err == nil && s != p.session) {
		return errPositionLost
	}
	return err
}

// receiptWrite is the receipts of one checkpoint with their keys.
type receiptWrite struct {
	to       int64
	logIndex uint64
	keys     []string
	values   [][]byte
}

// writeReceipts stores every receipt of ws that is newer than the stored
// one, in one pipeline (one round trip on a single Redis; one per node on a
// cluster), and returns how many it stored.
func writeReceipts(ctx context.Context, rdb redis.UniversalClient, ws []receiptWrite) (int, error) {
	run := func() ([]*redis.Cmd, error) {
		var cmds []*redis.Cmd
		_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, w := range ws {
				for lo := 0; lo < len(w.keys); lo += maxKeysPerCall {
					hi := min(lo+maxKeysPerCall, len(w.keys))
					args := make([]any, 0, 2+hi-lo)
					args = append(args, w.to, w.logIndex)
					for _, v := range w.values[lo:hi] {
						args = append(args, v)
					}
					cmds = append(cmds, receiptScript.EvalSha(ctx, pipe, w.keys[lo:hi], args...))
				}
			}
			return nil
		})
		return cmds, err
	}
	cmds, err := run()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// A Redis that restarted (or never saw the script): load it, then
		// write again, which the script makes harmless for what did land.
		if lerr := receiptScript.Load(ctx, rdb).Err(); lerr != nil {
			return 0, fmt.Errorf("anchor: load receipt script: %w", lerr)
		}
		cmds, err = run()
	}
	if err != nil {
		return 0, fmt.Errorf("anchor: write receipts: %w", err)
	}
	n := 0
	for _, c := range cmds {
		v, err := c.Int()
		if err != nil {
			return 0, fmt.Errorf("anchor: write receipts: %w", err)
		}
		n += v
	}
	return n, nil
}

// receiptsOf is b's receipts, entry logIndex of the log, keyed as the
// state store keeps them.
func receiptsOf(b *ledger.Batch, logIndex uint64, key func(partition int, suffix string) string) (receiptWrite, error) {
	rs, err := b.Receipts(logIndex)
	if err != nil {
		return receiptWrite{}, err
	}
	cp := b.Checkpoint
	w := receiptWrite{to: cp.To, logIndex: logIndex, keys: make([]string, len(rs)), values: make([][]byte, len(rs))}
	for i, r := range rs {
		w.keys[i] = key(cp.Partition, ledger.ReceiptSuffix(r.Leaf.Shipment))
		w.values[i] = r.Marshal()
	}
	return w, nil
}
