package ledger

import (
	"encoding/json"
	"fmt"

	"github.com/inbond/inbond/event"
)

// ChainSuffix is the suffix of a shipment's chain link in its partition's
// slot of the state store (state.Store.RecordKey): 40 bytes, Link's binary form.
func ChainSuffix(id event.ShipmentID) string { return "chain:" + string(id) }

// ReceiptSuffix is the suffix of a shipment's latest receipt in its
// partition's slot of the state store: Receipt.Marshal's JSON.
func ReceiptSuffix(id event.ShipmentID) string { return "receipt:" + string(id) }

// Marshal is the stored form of a receipt: RFC 8785 JSON.
func (r Receipt) Marshal() []byte { return canonicalJSON(r) }

// UnmarshalReceipt reads a stored receipt.
func UnmarshalReceipt(b []byte) (Receipt, error) {
	var r Receipt
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("ledger: stored receipt: %w", err)
	}
	return r, nil
}
