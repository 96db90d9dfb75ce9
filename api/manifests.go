package api

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/inbond/inbond/event"
	"github.com/segmentio/kafka-go"
)

// MaxManifestBytes bounds a manifest's body: the gateways' default limit
// (ingest.DefaultMaxBytes), so what the API accepts the gateway accepts.
const MaxManifestBytes = 64 << 10

// ManifestAccepted says the manifest is on inbond.manifests; the Kafka
// gateway ingests it as it ingests a carrier's, and the shipment's state
// reflects it once the processor has applied it.
type ManifestAccepted struct {
	Shipment     event.ShipmentID `json:"shipment"`
	InBondNumber string           `json:"inbond_number"`
	Carrier      event.CarrierID  `json:"carrier"`
	Topic        string           `json:"topic"`
	AcceptedAt   time.Time        `json:"accepted_at"`
}

type manifestInput struct {
	Shipment string `query:"shipment" doc:"the shipment the manifest declares or amends (default: its in-bond number)"`
	RawBody  []byte
}

type manifestOutput struct{ Body ManifestAccepted }

func (s *Server) registerManifests() {
	o := op(http.MethodPost, "/v1/manifests", "post-manifest", "Register or amend an in-bond movement",
		roles(roleCBP, roleCarrier), http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	o.DefaultStatus = http.StatusAccepted
	o.MaxBodyBytes = MaxManifestBytes
	o.SkipValidateBody = true // decoded strictly by checkManifest, as the gateway decodes it
	o.Description += " The body is a bare manifest document (wire/schema), decoded strictly (I-JSON, exact names, no unknown field) " +
		"and validated as the gateways validate it; a carrier may only declare its own movements."
	o.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/json": {Schema: s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[event.Manifest](), true, "Manifest")},
	}}
	huma.Register(s.api, o, s.postManifest)
}

// checkManifest decodes and validates a manifest body exactly as the Kafka
// gateway does a bare manifest keyed by shipment: strict decoding, unit
// normalization, the envelope's and the manifest's validation. Field paths
// are the body's own ("unit", "carrier.scac"); the shipment is "shipment".
func checkManifest(body []byte, shipment event.ShipmentID, now time.Time) (*event.Envelope, *Error) {
	m, err := event.UnmarshalManifest(body)
	if err != nil {
		return nil, invalid(err)
	}
	if shipment == "" {
		shipment = event.ShipmentID(m.InBondNumber)
	}
	at := now.UTC().Truncate(time.Microsecond)
	e := &event.Envelope{
		SpecVersion: event.SpecVersion, Type: event.TypeManifest, Subject: shipment, PartitionKey: shipment,
		Time: m.CreatedAt.UTC(), ReceivedTime: at, DataContentType: event.ContentTypeJSON,
		Carrier: m.Carrier.SCAC, Source: "urn:inbond:carrier:" + string(m.Carrier.SCAC), Data: m,
	}
	e.ID = event.DeriveID(e.Carrier, e.Subject, "", 0, "manifest", body)
	rebase := func(err error) error {
		return event.MapFields(err, func(f string) string {
			if f == "subject" || f == "partitionkey" {
				return "shipment"
			}
			rest, _ := strings.CutPrefix(f, "data.")
			return rest
		})
	}
	if err := event.Normalize(e); err != nil {
		return nil, invalid(rebase(err))
	}
	if err := e.Validate(); err != nil {
		return nil, invalid(rebase(err))
	}
	return e, nil
}

func (s *Server) postManifest(ctx context.Context, in *manifestInput) (*manifestOutput, error) {
	who := identity(ctx)
	e, bad := checkManifest(in.RawBody, event.ShipmentID(in.Shipment), s.cfg.EventClock())
	if bad != nil {
		return nil, bad
	}
	m := e.Data.(*event.Manifest)
	if who.Kind == roleCarrier {
		if m.Carrier.SCAC != who.SCAC {
			return nil, fail(http.StatusForbidden, "carrier %s may only declare its own movements, not %s's", who.SCAC, m.Carrier.SCAC)
		}
		shs, err := s.cfg.Store.Load(ctx, s.partitionOf(e.Subject), []event.ShipmentID{e.Subject})
		if err != nil {
			return nil, err
		}
		if sh := shs[e.Subject]; sh != nil && !owns(who, sh) {
			return nil, fail(http.StatusForbidden, "carrier %s may not amend shipment %s", who.SCAC, e.Subject)
		}
	}
	msg := kafka.Message{Topic: string(event.TopicManifests), Key: []byte(e.Subject), Value: in.RawBody}
	if err := s.cfg.Writer.WriteMessages(ctx, msg); err != nil {
		return nil, fail(http.StatusServiceUnavailable, "publish the manifest: %v", err)
	}
	return &manifestOutput{ManifestAccepted{Shipment: e.Subject, InBondNumber: m.InBondNumber, Carrier: m.Carrier.SCAC,
		Topic: string(event.TopicManifests), AcceptedAt: e.ReceivedTime}}, nil
}
