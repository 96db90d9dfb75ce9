package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Head is a chain head: SHA-256 of the previous head and a record value.
type Head [sha256.Size]byte

// String is the head in lowercase hex, as leaves and receipts write it.
func (h Head) String() string { return hex.EncodeToString(h[:]) }

// MarshalText writes the head in hex.
func (h Head) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads a head written by MarshalText.
func (h *Head) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != len(h) {
		return fmt.Errorf("ledger: chain head %q: want %d hex digits", b, 2*len(h))
	}
	_, err := hex.Decode(h[:], b)
	if err != nil {
		return fmt.Errorf("ledger: chain head %q: %w", b, err)
	}
	return nil
}

// Link is a shipment's place in its chain: how many records it has hashed
// and the head after the last. The zero Link is the chain of a shipment with
// no record: count 0, head all zeros.
type Link struct {
	Count uint64
	Head  Head
}

// Next is the link after one more record whose value (the exact bytes on
// inbond.events) is value.
func (l Link) Next(value []byte) Link {
	h := sha256.New()
	h.Write(l.Head[:])
	h.Write(value)
	var next Link
	next.Count = l.Count + 1
	h.Sum(next.Head[:0])
	return next
}

// linkSize is a stored link's size: count (8 bytes, big endian), then head.
const linkSize = 8 + sha256.Size

// MarshalBinary is the stored form of a link, 40 bytes.
func (l Link) MarshalBinary() ([]byte, error) {
	b := make([]byte, linkSize)
	binary.BigEndian.PutUint64(b, l.Count)
	copy(b[8:], l.Head[:])
	return b, nil
}

// UnmarshalBinary reads a link written by MarshalBinary.
func (l *Link) UnmarshalBinary(b []byte) error {
	if len(b) != linkSize {
		return fmt.Errorf("ledger: stored chain link is %d bytes, want %d", len(b), linkSize)
	}
	l.Count = binary.BigEndian.Uint64(b)
	copy(l.Head[:], b[8:])
	return nil
}

// ErrChain is wrapped by every history that does not chain to what the
// ledger recorded.
var ErrChain = errors.New("ledger: history does not match the chain the ledger recorded")
