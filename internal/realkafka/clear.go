package realkafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Clear deletes every topic but Kafka's internal ones and every consumer
// group, and returns once the brokers no longer list them: a cluster shared
// by the tests of a package gives each one the empty cluster it would get
// alone. A group still holding members (a process its test killed, within
// its session timeout) is retried until Kafka has timed them out, within
// ctx.
func (c *Cluster) Clear(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.RetryTimeout(10*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := deleteGroups(ctx, cl); err != nil {
		return fmt.Errorf("realkafka: clear groups: %w", err)
	}
	if err := deleteTopics(ctx, cl); err != nil {
		return fmt.Errorf("realkafka: clear topics: %w", err)
	}
	return nil
}

// userTopics lists the topics that are not Kafka's own (__consumer_offsets,
// __transaction_state).
func userTopics(ctx context.Context, cl *kgo.Client) ([]string, error) {
	req := kmsg.NewPtrMetadataRequest() // no topics named: all of them
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range resp.Topics {
		if t.Topic != nil && !strings.HasPrefix(*t.Topic, "__") {
			out = append(out, *t.Topic)
		}
	}
	slices.Sort(out)
	return out, nil
}

func deleteTopics(ctx context.Context, cl *kgo.Client) error {
	topics, err := userTopics(ctx, cl)
	if err != nil || len(topics) == 0 {
		return err
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30_000
	req.TopicNames = topics
	for _, name := range topics {
		t := kmsg.NewDeleteTopicsRequestTopic()
		t.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("delete %v: %w", t.Topic, err)
		}
	}
	// The controller has committed the deletion; wait until the brokers'
	// metadata has it too, so a topic created next is a new one everywhere.
	for {
		left, err := userTopics(ctx, cl)
		if err == nil && len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v still listed: %w (last error %v)", left, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func deleteGroups(ctx context.Context, cl *kgo.Client) error {
	for {
		groups, err := listGroups(ctx, cl)
		if err != nil {
			return err
		}
		if len(groups) == 0 {
			return nil
		}
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = groups
		var busy []string
		for _, shard := range cl.RequestSharded(ctx, req) {
			if shard.Err != nil {
				return shard.Err
			}
			for _, g := range shard.Resp.(*kmsg.DeleteGroupsResponse).Groups {
				switch err := kerr.ErrorForCode(g.ErrorCode); {
				case err == nil, errors.Is(err, kerr.GroupIDNotFound):
				case errors.Is(err, kerr.NonEmptyGroup):
					busy = append(busy, g.Group)
				default:
					return fmt.Errorf("delete group %s: %w", g.Group, err)
				}
			}
		}
		if len(busy) == 0 {
			continue // list again: a group may have formed meanwhile
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("groups %v still have members: %w", busy, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// listGroups asks every broker for the groups it coordinates.
func listGroups(ctx context.Context, cl *kgo.Client) ([]string, error) {
	var out []string
	for _, shard := range cl.RequestSharded(ctx, kmsg.NewPtrListGroupsRequest()) {
		if shard.Err != nil {
			return nil, shard.Err
		}
		resp := shard.Resp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, err
		}
		for _, g := range resp.Groups {
			out = append(out, g.Group)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
